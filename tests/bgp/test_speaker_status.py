"""The speaker's status objects with real ExaBGP sessions to FRR: BGPSessionState says
"up" for each established session, ServiceBGPStatus exists for each node announcing a
Service and names the peers; what a speaker left behind without cleaning up (as after
kill -9, simulated in process and for real with `python -m speaker`) is removed by the
next speaker of that node; a removed peer's BGPSessionState goes with it."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from lab.frr import pid_alive
from lab.harness.speaker_cluster import BASE_CONFIG, NAMESPACE, SpeakerCluster, speaker_cluster
from lab.processes import pids_referencing
from metallb.component.render import crd_objects
from metallb.wait import poll_until

TIMEOUT = 30.0
GROUP = ("metallb.io", "v1beta1", NAMESPACE)
PEER_V4, PEER_V6 = "192.0.2.1", "2001:db8:ffff::1"


@pytest.fixture(scope="module")
def cluster() -> Iterator[SpeakerCluster]:
    with speaker_cluster(2, start_speakers=False) as c:
        ext = kubernetes.client.ApiextensionsV1Api(c.api)
        for crd in crd_objects():
            ext.create_custom_resource_definition(crd)
        for node in c.lab.nodes:
            c.start_speaker(node)
        yield c


def _items(cluster: SpeakerCluster, plural: str) -> list[dict]:
    custom = kubernetes.client.CustomObjectsApi(cluster.api)
    return custom.list_namespaced_custom_object(*GROUP, plural)["items"]


def service_status(cluster: SpeakerCluster) -> dict[tuple[str, str], list[str]]:
    return {(o["status"]["node"], o["status"]["serviceName"]): o["status"].get("peers", [])
            for o in _items(cluster, "servicebgpstatuses") if o.get("status")}


def session_states(cluster: SpeakerCluster) -> dict[tuple[str, str], str]:
    return {(o["status"]["node"], o["status"]["peer"]): o["status"].get("state")
            for o in _items(cluster, "bgpsessionstates") if o.get("status")}


def test_sessions_and_announcing_nodes_are_in_the_api(cluster):
    everyone = {(f"node{i}", peer): "up" for i in (0, 1) for peer in (PEER_V4, PEER_V6)}
    poll_until(lambda: session_states(cluster) == everyone, TIMEOUT,
               what="four BGPSessionStates up")
    cluster.service("web", ["198.51.100.40"], etp="Local")
    cluster.endpoints("web", list(cluster.lab.nodes))
    try:
        poll_until(lambda: len(cluster.lab.nexthops("198.51.100.40/32")) == 2, TIMEOUT,
                   what="both nodes announce web")
        found = poll_until(lambda: (s := service_status(cluster)) and len(s) == 2 and s,
                           TIMEOUT, what="a ServiceBGPStatus per node")
        assert set(found) == {("node0", "web"), ("node1", "web")}
        assert all(PEER_V4 in peers for peers in found.values()), found
        # Local policy, endpoints only on node1: node0 stops announcing, its object goes.
        cluster.endpoints("web", [cluster.lab.nodes[1]])
        poll_until(lambda: set(service_status(cluster)) == {("node1", "web")}, TIMEOUT,
                   what="node0's ServiceBGPStatus removed")
    finally:
        cluster.delete_service("web")
    poll_until(lambda: service_status(cluster) == {}, TIMEOUT,
               what="no ServiceBGPStatus once the Service is gone")


def test_what_a_speaker_left_behind_is_removed_by_the_next_one(cluster):
    node0 = cluster.lab.nodes[0]
    cluster.service("left", ["198.51.100.41"])
    cluster.endpoints("left", [node0])
    try:
        poll_until(lambda: ("node0", "left") in service_status(cluster), TIMEOUT,
                   what="node0 announces left")
        daemon = cluster.speakers["node0"]
        assert daemon.status is not None
        daemon.status.queue.stop(timeout=0.0)
        daemon.status = None  # it ends without a word to the API, as after kill -9
        cluster.stop_speaker(node0)
        assert ("node0", "left") in service_status(cluster)
        cluster.delete_service("left")  # gone while node0 had no speaker
        cluster.start_speaker(node0)
        poll_until(lambda: ("node0", "left") not in service_status(cluster), TIMEOUT,
                   what="the leftover ServiceBGPStatus removed by the new speaker")
        poll_until(lambda: session_states(cluster).get(("node0", PEER_V4)) == "up", TIMEOUT,
                   what="node0's session up again")
    finally:
        cluster.delete_service("left")


def test_a_removed_peer_takes_its_session_state_along(cluster):
    config = copy.deepcopy(BASE_CONFIG)
    config["peers"] = [p for p in config["peers"] if p["peer-address"] == PEER_V4]
    cluster.set_config(config)
    try:
        poll_until(lambda: set(session_states(cluster)) == {("node0", PEER_V4),
                                                           ("node1", PEER_V4)}, TIMEOUT,
                   what="the IPv6 peer's BGPSessionStates removed")
    finally:
        cluster.set_config(BASE_CONFIG)


def _speaker_process(cluster: SpeakerCluster, node_name: str, netns: str,
                     tmp_path: Path, run: str) -> tuple[subprocess.Popen, Path]:
    """`python -m speaker` for `node_name`, its log and ExaBGP files in a state dir
    of its own (so its ExaBGP can be found by that path)."""
    kubeconfig = cluster.server.write_kubeconfig(tmp_path / "kubeconfig")
    state = tmp_path / f"state-{run}"
    with open(tmp_path / f"speaker-{run}.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "speaker", "--node-name", node_name,
             "--kubeconfig", str(kubeconfig), "--namespace", NAMESPACE,
             "--host", "127.0.0.1", "--port", "0", "--exabgp-netns", netns,
             "--state-dir", str(state)],
            stdout=log, stderr=subprocess.STDOUT)
    return proc, state


def _kill(pids: list[int]) -> None:
    for pid in pids:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    poll_until(lambda: not any(pid_alive(p) for p in pids), 10, what=f"{pids} gone")


def test_a_speaker_process_killed_with_sigkill_is_cleaned_up_after(cluster, tmp_path):
    """A real `python -m speaker` announces a Service (its ServiceBGPStatus and
    BGPSessionStates written), then is killed with SIGKILL with its ExaBGP, as when
    its Pod's processes are killed: its objects stay. Meanwhile the Service is deleted
    and the IPv6 peer removed; the node's next speaker removes both leftovers."""
    node1 = cluster.lab.nodes[1]
    name = cluster.node_name(node1)
    cluster.stop_speaker(node1)  # its in-process speaker; restarted at the end
    poll_until(lambda: not [k for k in session_states(cluster) if k[0] == name], TIMEOUT,
               what=f"{name}'s in-process speaker cleaned up")
    cluster.service("killed", ["198.51.100.42"])
    cluster.endpoints("killed", [node1])
    first, second = None, None
    leftovers: list[int] = []
    try:
        first, state = _speaker_process(cluster, name, node1.netns, tmp_path, "first")
        poll_until(lambda: (name, "killed") in service_status(cluster) and all(
            session_states(cluster).get((name, p)) == "up" for p in (PEER_V4, PEER_V6)),
            TIMEOUT, what=f"the speaker process of {name} announces and says so")
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        leftovers = pids_referencing(str(state))  # its ExaBGP, left without its parent
        _kill(leftovers)
        assert (name, "killed") in service_status(cluster)
        assert (name, PEER_V6) in session_states(cluster)

        cluster.delete_service("killed")
        config = copy.deepcopy(BASE_CONFIG)
        config["peers"] = [p for p in config["peers"] if p["peer-address"] == PEER_V4]
        cluster.set_config(config)
        second, _ = _speaker_process(cluster, name, node1.netns, tmp_path, "second")
        poll_until(lambda: (name, "killed") not in service_status(cluster)
                   and (name, PEER_V6) not in session_states(cluster)
                   and session_states(cluster).get((name, PEER_V4)) == "up", TIMEOUT,
                   what="the new speaker process removed what the killed one left")
        os.kill(second.pid, signal.SIGTERM)
        assert second.wait(timeout=20) == 0
        assert "Traceback" not in (tmp_path / "speaker-second.log").read_text()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        _kill(leftovers + [p for run in ("first", "second")
                           for p in pids_referencing(str(tmp_path / f"state-{run}"))])
        cluster.delete_service("killed")
        cluster.set_config(BASE_CONFIG)
        cluster.start_speaker(node1)
