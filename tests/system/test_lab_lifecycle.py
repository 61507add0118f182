"""`metallb lab up|status|down` as users run them: the real command in a subprocess, a
real FRR router, node namespaces, API emulator, controller, speakers and Prometheus."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import kubernetes
import pytest

from lab.frr import pid_alive
from lab.harness.requires import require_program
from metallb.wait import WaitTimeout, poll_until
from tests.system.support import lab_env

STATUS_KEYS = {"state_dir", "kubeconfig", "router", "nodes", "prometheus_url", "pids",
               "sessions"}


def _status(lab) -> dict:
    proc = lab.run("status", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_up_status_down_leaves_nothing_behind():
    with lab_env() as lab:
        up = lab.run("up", "--nodes", "3", "--prometheus")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "3 sessions Established" in up.stdout
        assert "Traceback" not in up.stdout + up.stderr

        report = _status(lab)
        assert report.keys() >= STATUS_KEYS
        assert report["state_dir"] == str(lab.state_dir)
        assert report["kubeconfig"] == str(lab.state_dir / "kubeconfig")
        assert os.path.exists(report["kubeconfig"])
        assert report["router"]["namespace"] == f"{lab.prefix}r"
        assert os.path.exists(os.path.join(report["router"]["vtysh_socket_dir"], "bgpd.vty"))
        assert report["nodes"] == [
            {"name": f"node{i}", "namespace": f"{lab.prefix}n{i}", "address": f"192.0.2.{11 + i}"}
            for i in range(3)
        ]
        assert report["prometheus_url"].startswith("http://127.0.0.1:")
        assert [(s["node"], s["peer"], s["state"]) for s in report["sessions"]] == [
            (f"node{i}", "192.0.2.1", "Established") for i in range(3)]
        names = sorted(p["name"] for p in report["processes"])
        assert names == sorted(["apiserver", "controller", "prometheus", "frr-zebra",
                                "frr-bgpd", *(f"speaker-node{i}" for i in range(3))])
        pids = report["pids"]
        assert len(pids) == len(names) and all(pid_alive(p) for p in pids)
        assert sorted(lab.namespaces()) == sorted([f"{lab.prefix}r",
                                                   *(f"{lab.prefix}n{i}" for i in range(3))])

        text = lab.run("status")
        assert text.returncode == 0
        assert "node1" in text.stdout and "Established" in text.stdout

        # The config went in as metallb.io objects (--config-format crds, the default).
        require_program("kubectl", "kubernetes-client")
        got = subprocess.run(["kubectl", "--kubeconfig", report["kubeconfig"], "get",
                              "ipaddresspools,bgppeers,bgpadvertisements", "-n",
                              "metallb-system", "-o", "name"],
                             capture_output=True, text=True, timeout=60, check=False)
        assert got.returncode == 0, got.stderr
        assert sorted(got.stdout.split()) == [
            "bgpadvertisement.metallb.io/pool1", "bgpadvertisement.metallb.io/pool2",
            # one per node: each node's annotations name its own source address
            "bgppeer.metallb.io/peer-192.0.2.1", "bgppeer.metallb.io/peer-192.0.2.1-2",
            "bgppeer.metallb.io/peer-192.0.2.1-3",
            "ipaddresspool.metallb.io/pool1", "ipaddresspool.metallb.io/pool2"]

        _metallb_status_tells_the_lab(report["kubeconfig"])

        again = lab.run("up")
        assert again.returncode == 1
        assert "already up" in again.stderr and "Traceback" not in again.stderr

        down = lab.run("down")
        assert down.returncode == 0, down.stderr
        assert "removed namespace" in down.stdout
        assert not [p for p in pids if pid_alive(p)]
        assert lab.leftovers() == []

        assert lab.run("down").returncode == 0  # idempotent
        gone = lab.run("status", "--json")
        assert gone.returncode == 1 and "no lab is up" in gone.stderr


def _metallb_status(kubeconfig: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "metallb", "status", "--kubeconfig",
                           kubeconfig, "--json"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _metallb_status_tells_the_lab(kubeconfig: str) -> None:
    """`metallb status --json` against the lab's API (the same command as against a
    real cluster): both pools with their size, every daemon's config Valid, each
    node's session to the router up, and a Service asking for an unknown pool pending
    with its reason."""
    core = kubernetes.client.CoreV1Api(
        kubernetes.config.new_client_from_config(config_file=kubeconfig))
    core.create_namespaced_service("default", {
        "metadata": {"name": "lost", "annotations": {
            "metallb.universe.tf/address-pool": "nope"}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"a": "b"}}})
    daemons = ["controller", *(f"speaker-node{i}" for i in range(3))]
    expected = {
        "pools": [{"name": "pool1", "size": 1, "inUse": 0, "reported": True},
                  {"name": "pool2", "size": 16, "inUse": 0, "reported": True}],
        "configurationStates": [{"name": d, "result": "Valid", "errorSummary": ""}
                                for d in daemons],
        "sessions": [(f"node{i}", "192.0.2.1", "up") for i in range(3)],
        "pendingServices": [{"service": "default/lost", "reason": "NoMatchingPool",
                             "message": 'cannot allocate an address: unknown pool "nope"'}],
    }

    def seen() -> dict:
        summary = _metallb_status(kubeconfig)
        summary["sessions"] = [(s["node"], s["peer"], s["state"])
                               for s in summary["sessions"]]
        return summary

    last: dict = {}

    def matches() -> bool:
        last.clear()
        last.update(seen())
        return last == expected

    try:
        poll_until(matches, 60, max_interval=1.0, what="metallb status says the lab's state")
    except WaitTimeout:
        assert last == expected  # the difference, as pytest shows it
        raise
    core.delete_namespaced_service("lost", "default")
    core.api_client.close()


def test_invalid_component_config_is_refused_without_leftovers(tmp_path):
    config = tmp_path / "bad.lokocfg"
    config.write_text(textwrap.dedent("""\
        component "metallb" {
          address_pools = {
            pool1 = ["198.51.100.300/32"]
          }
        }
        """))
    with lab_env() as lab:
        proc = lab.run("up", "--config", str(config))
        assert proc.returncode == 1
        assert "Traceback" not in proc.stdout + proc.stderr
        assert "bad.lokocfg" in proc.stderr and "address_pools" in proc.stderr
        assert "198.51.100.300" in proc.stderr
        assert lab.leftovers() == []


def test_failure_half_way_tears_down_what_was_started(tmp_path):
    # Valid HCL, but the ServiceMonitor needs the Prometheus Operator's kinds, which the
    # emulator does not serve: apply fails after the network, FRR and the API are up.
    config = tmp_path / "monitor.lokocfg"
    config.write_text(textwrap.dedent("""\
        component "metallb" {
          address_pools = { pool1 = ["198.51.100.20/32"] }
          service_monitor = true
        }
        """))
    with lab_env() as lab:
        proc = lab.run("up", "--nodes", "1", "--config", str(config))
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Kubernetes API emulator" in proc.stdout  # it did get that far
        assert "applying the component failed" in proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        assert lab.leftovers() == []
        assert lab.run("status").returncode == 1


def test_down_after_the_api_server_was_killed():
    with lab_env() as lab:
        assert lab.run("up", "--nodes", "2").returncode == 0
        report = _status(lab)
        apiserver = next(p for p in report["processes"] if p["name"] == "apiserver")
        os.kill(apiserver["pid"], signal.SIGKILL)
        poll_until(lambda: not pid_alive(apiserver["pid"]), 10, what="apiserver gone")
        after = _status(lab)
        assert [p["running"] for p in after["processes"] if p["name"] == "apiserver"] == [False]
        down = lab.run("down")
        assert down.returncode == 0, down.stderr
        assert "Traceback" not in down.stdout + down.stderr
        assert not [p for p in report["pids"] if pid_alive(p)]
        assert lab.leftovers() == []


def test_down_cleans_up_after_up_was_killed_and_the_state_file_lost():
    with lab_env() as lab:
        proc = lab.popen("up", "--nodes", "2")
        try:
            # Kill `up` once the speakers were started (their logs exist), mid-start.
            poll_until(lambda: (lab.state_dir / "speaker-node1.log").exists(), 60,
                       what="up to start the speakers")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        (lab.state_dir / "lab.json").unlink()
        assert lab.leftovers() != []
        down = lab.run("down")
        assert down.returncode == 0, down.stderr
        assert "stopped leftover process" in down.stdout
        assert lab.leftovers() == []


def test_peer_password_never_shows_in_status_or_logs(tmp_path):
    """A static peer with an MD5 password (one that never comes up): neither `lab status`
    (text or JSON) nor any daemon's log in the state dir shows the password."""
    secret = "lab-Secret-pw7"
    config = tmp_path / "secret.lokocfg"
    config.write_text(textwrap.dedent(f"""\
        component "metallb" {{
          address_pools = {{ pool1 = ["198.51.100.20/32"] }}
          peer {{
            peer_address = "192.0.2.250"
            peer_asn     = 64512
            my_asn       = 64513
            password     = "{secret}"
          }}
        }}
        """))
    with lab_env() as lab:
        up = lab.run("up", "--nodes", "1", "--config", str(config))
        assert up.returncode == 0, up.stdout + up.stderr
        assert secret not in up.stdout + up.stderr
        # The speaker must have tried that session: ExaBGP's config holds the password
        # (mode 0600, the only place it may be written).
        exabgp_confs = list(lab.state_dir.rglob("exabgp.conf"))
        poll_until(lambda: any(secret in p.read_text() for p in exabgp_confs), 20,
                   what="the static peer reached ExaBGP's config")
        assert all(p.stat().st_mode & 0o077 == 0 for p in exabgp_confs)
        for args in (("status",), ("status", "--json")):
            out = lab.run(*args)
            assert out.returncode == 0 and secret not in out.stdout + out.stderr
        logs = [p for p in lab.state_dir.rglob("*.log*") if p.is_file()]
        assert logs
        leaking = [str(p) for p in logs if secret in p.read_text(errors="replace")]
        assert leaking == []


@pytest.mark.parametrize("config_format", ["crds", "configmap"])
def test_a_peer_with_a_bfd_profile_brings_bfd_up_between_router_and_every_node(
        tmp_path, config_format):
    """`lab up --config` with a component `bfd_profile` block: the router runs bfdd, and
    every node's BFD session is up on both ends (`lab status --json`, the speaker's
    metallb_bfd_session_up), with the config as metallb.io objects or as the ConfigMap."""
    from urllib.request import urlopen

    config = tmp_path / "bfd.lokocfg"
    config.write_text(textwrap.dedent(f"""\
        component "metallb" {{
          address_pools = {{ pool1 = ["198.51.100.20/32"] }}
          packet_peer_autodiscovery = false
          config_format = "{config_format}"
          bfd_profile "lab" {{
            receive_interval  = 300
            transmit_interval = 300
            detect_multiplier = 3
          }}
          peer {{
            peer_address = "192.0.2.1"
            peer_asn     = 64512
            my_asn       = 64513
            bfd_profile  = "lab"
          }}
        }}
        """))
    bfd_up = re.compile(r'^metallb_bfd_session_up\{[^}]*peer="192\.0\.2\.1"[^}]*\} 1(\.0)?$',
                        re.MULTILINE)

    def speaker_bfd_up(metrics: str) -> bool:
        with urlopen(f"http://{metrics}/metrics", timeout=5) as response:
            return bool(bfd_up.search(response.read().decode()))

    def all_up() -> dict | None:
        report = _status(lab)
        sessions = {s["node"]: s["status"] for s in report["bfd_sessions"]}
        speakers = [p["metrics"] for p in report["processes"]
                    if p["name"].startswith("speaker-")]
        if sessions == {"node0": "up", "node1": "up"} and len(speakers) == 2 and all(
                speaker_bfd_up(m) for m in speakers):
            return report
        return None

    with lab_env() as lab:
        up = lab.run("up", "--nodes", "2", "--config", str(config),
                     "--config-format", config_format)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "BFD 300x3 ms" in up.stdout
        assert ("the legacy ConfigMap" in up.stdout) == (config_format == "configmap")
        report = poll_until(all_up, 30, interval=1, max_interval=2,
                            what="BFD up on the router and every speaker")
        assert "frr-bfdd" in {p["name"] for p in report["processes"]}
