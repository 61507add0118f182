"""The BGP password never leaves the two places that need it (the ConfigMap and ExaBGP's
0600 config): not in any other file under the state dir, the speaker's output, Events or
/metrics, even at --log-level debug (where ExaBGP logs every configuration statement,
again on every reload). Real speaker process, real ExaBGP, FRR with the password."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import re
import signal
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.frr import FrrRouter, RouterConfig
from lab.harness.bgplab import ROUTER_ASN
from lab.harness.config_objects import (
    converted,
    install_crds,
    put_basic_auth_secret,
    put_objects,
)
from lab.harness.speaker_cluster import BASE_CONFIG, NAMESPACE, SpeakerCluster, speaker_cluster
from lab.netns import Node
from metallb.wait import poll_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

SECRET = "Md5-Pw-7f3kQz"


def config(hold_time: str) -> dict:
    doc = copy.deepcopy(BASE_CONFIG)
    for peer in doc["peers"]:
        peer["password"] = SECRET
        peer["hold-time"] = hold_time
    return doc


def modes(state_dir: Path) -> dict[str, str]:
    """Every path under the state dir whose mode is not 0700 (dirs) / 0600 (the rest)."""
    wrong = {}
    for path in [state_dir, *state_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            wrong[str(path)] = oct(mode)
    return wrong


def leaks(state_dir: Path, *texts: str) -> list[str]:
    """Where the secret shows up: files under the state dir other than ExaBGP's config,
    and each of `texts` (by index)."""
    found = [str(p) for p in state_dir.rglob("*") if p.is_file() and p.name != "exabgp.conf"
             and SECRET.encode() in p.read_bytes()]
    return found + [f"text {i}" for i, text in enumerate(texts) if SECRET in text]


# rule N14
def test_password_never_leaks_at_debug_and_state_files_are_private(tmp_path):
    router = RouterConfig(asn=ROUTER_ASN, password=SECRET)
    with speaker_cluster(1, start_speakers=False, router=router) as cluster:
        node = cluster.lab.nodes[0]
        cluster.set_config(config("3s"))
        cluster.service("web", ["198.51.100.10"])
        cluster.endpoints("web", [node])
        kubeconfig = cluster.server.write_kubeconfig(tmp_path / "kubeconfig")
        state_dir = tmp_path / "state"
        output = tmp_path / "speaker.log"
        with open(output, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "speaker", "--node-name", "node0",
                 "--kubeconfig", str(kubeconfig), "--namespace", "metallb-system",
                 "--host", "127.0.0.1", "--port", "0", "--exabgp-netns", node.netns,
                 "--state-dir", str(state_dir), "--log-level", "debug"],
                stdout=out, stderr=subprocess.STDOUT)
        try:
            poll_until(lambda: cluster.lab.nexthops("198.51.100.10/32") == [node.ipv4], 30,
                       what="route over the MD5 session")
            address = poll_until(lambda: re.search(r"metrics=(127\.0\.0\.1:\d+)",
                                                   output.read_text()), 10,
                                 what="metrics address in the log").group(1)
            # A reload: ExaBGP logs its configuration statements again.
            cluster.set_config(config("6s"))
            poll_until(lambda: output.read_text().count("event=exabgp_peers_set") >= 2, 30,
                       what="the changed peers sent to ExaBGP")
            poll_until(lambda: len(cluster.lab.router.established()) == 2, 30,
                       what="sessions back after the reload")
            conf = (state_dir / "exabgp.conf").read_text()
            assert SECRET in conf  # ExaBGP must read it: the only place it may be
            assert "md5-password     | '<redacted>'" in (state_dir / "exabgp.log").read_text()
            assert modes(state_dir) == {}
            with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as resp:
                metrics = resp.read().decode()
            events = json.dumps(cluster.core.list_event_for_all_namespaces(
                _preload_content=False).json())
            assert leaks(state_dir, output.read_text(), metrics, events) == []
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(30)
        assert leaks(state_dir, output.read_text()) == []
        assert modes(state_dir) == {}


@contextlib.contextmanager
def md5_cluster(password: str) -> Iterator[tuple[SpeakerCluster, Node, FrrRouter]]:
    """One node, no speaker started yet, FRR expecting `password`."""
    router = RouterConfig(asn=ROUTER_ASN, password=password)
    with speaker_cluster(1, start_speakers=False, router=router) as cluster:
        yield cluster, cluster.lab.nodes[0], cluster.lab.router


def frr_password(router: FrrRouter, password: str) -> None:
    """Restart the router with another MD5 password (FRR does not re-key the listening
    socket of a dynamic-neighbor range when the peer group's password changes)."""
    router.config = dataclasses.replace(router.config, password=password)
    router.restart()


# rules N9 and N13: a peer whose password goes A -> B -> A gets exactly the routes
# desired at each step, never routes ExaBGP cached under the neighbor as it was before.
# (ExaBGP 4.2 keys a neighbor's API routes by its name, which has no password in it:
# exabgp/bgp/neighbor.py Neighbor.name; so a withdraw sent under B also holds for A.)
def test_password_changes_back_and_forth_leave_exactly_the_desired_routes():
    first, second = "Pw-A-4kd9", "Pw-B-8zq2"
    with md5_cluster(first) as (cluster, node, frr):

        def with_password(password: str) -> dict:
            doc = copy.deepcopy(BASE_CONFIG)
            for peer in doc["peers"]:
                peer["password"] = password
            return doc

        def routes_become(expected: set[str], what: str) -> None:
            def exact() -> bool:
                held = {p for p in ("198.51.100.1/32", "198.51.100.2/32", "198.51.100.3/32")
                        if frr.routes(p)}
                return len(frr.established()) == 2 and held == expected
            poll_until(exact, 30, what=what)

        cluster.set_config(with_password(first))
        cluster.service("one", ["198.51.100.1"])
        cluster.endpoints("one", [node])
        cluster.start_speaker(node)
        routes_become({"198.51.100.1/32"}, "A: route one")

        cluster.set_config(with_password(second))
        frr_password(frr, second)
        cluster.delete_service("one")
        cluster.service("two", ["198.51.100.2"])
        cluster.endpoints("two", [node])
        routes_become({"198.51.100.2/32"}, "B: exactly route two")

        cluster.set_config(with_password(first))
        frr_password(frr, first)
        cluster.service("three", ["198.51.100.3"])
        cluster.endpoints("three", [node])
        routes_become({"198.51.100.2/32", "198.51.100.3/32"}, "A again: two and three only")
        # and it stays so: nothing cached under the first A session comes back later
        frr.vtysh("clear bgp *")
        routes_become({"198.51.100.2/32", "198.51.100.3/32"}, "after a reset: the same")


# issue 14: BGPPeer.spec.passwordSecret. The speaker watches the basic-auth Secrets of
# its namespace: a new password in the Secret re-keys the session, no speaker restart.
def test_password_secret_change_reaches_exabgp_without_a_restart():
    first, second = "Pw-S1-6tq2", "Pw-S2-9vx4"
    with md5_cluster(first) as (cluster, node, frr):
        install_crds(cluster.api)
        put_basic_auth_secret(cluster.core, NAMESPACE, "bgp-password", first)
        objects = converted(BASE_CONFIG, NAMESPACE)
        for obj in objects:
            if obj["kind"] == "BGPPeer":
                obj["spec"]["passwordSecret"] = {"name": "bgp-password",
                                                 "namespace": NAMESPACE}
        put_objects(cluster.api, NAMESPACE, objects)
        cluster.service("web", ["198.51.100.10"])
        cluster.endpoints("web", [node])
        speaker = cluster.start_speaker(node)
        poll_until(lambda: speaker.config_source.source == "crds", 30, what="crds source")
        poll_until(lambda: frr.routes("198.51.100.10/32") and len(frr.established()) == 2,
                   30, what="route over the MD5 session keyed from the Secret")

        frr_password(frr, second)
        put_basic_auth_secret(cluster.core, NAMESPACE, "bgp-password", second)
        poll_until(lambda: frr.routes("198.51.100.10/32") and len(frr.established()) == 2,
                   60, what="sessions re-established with the Secret's new password")
        assert cluster.speakers["node0"] is speaker and speaker.config_source.stale is False
