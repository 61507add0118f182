"""`metallb lab demo --containers`: the lab runs what users deploy. The controller and
every speaker run from the image under podman, each from its rendered pod spec; the
demo's checks pass; what the containers are is read back from `podman inspect` (never
from the manifests); a `podman stop` withdraws the node's routes like a process SIGTERM
does (both figures printed, not asserted: no timed assertions)."""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import time

import pytest

from lab.cluster import restart_speaker
from lab.podman import command as podman_command
from lab.podman import environment as podman_env
from lab.running import RunningLab
from metallb.wait import poll_until
from tests.support.image import podman
from tests.system.support import lab_env

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(1200)]
NODES = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]


@pytest.fixture(scope="module")
def demo(image):
    """`lab demo --containers --keep`: its output, and the lab it leaves running."""
    with lab_env() as lab:
        proc = lab.run("demo", "--containers", "--keep", "--nodes", "3", timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        with RunningLab.open(str(lab.state_dir)) as running:
            yield proc.stdout, running, lab
        down = lab.run("down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert lab.leftovers() == []
        names = podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert not [n for n in names if n.startswith(f"{lab.prefix}-")]


def test_demo_checks_pass_with_the_daemons_in_containers(demo):
    out, running, _lab = demo
    assert "Traceback" not in out
    assert re.findall(r"^\[(\d)/7\]", out, re.M) == [str(i) for i in range(1, 8)]
    assert "(from the image, under podman)" in out
    assert re.search(r"service default/web: \S+ \(pool pool1\)", out)
    assert re.search(r"service default/nginx: \S+ \(pool pool2\)", out)
    for address in re.findall(r"^\s+(\S+)/32 kernel next hops: (?:.*)$", out, re.M):
        assert running.kernel_nexthops(address) == NODES
    hops = re.findall(r"/32 in FRR .*active next hops: (.*)$", out, re.M)
    assert hops and all(h.split() == NODES for h in hops)
    sessions = re.findall(r'metallb_bgp_session_up\{node="(node\d)",peer="192.0.2.1"\} 1$',
                          out, re.M)
    assert sorted(sessions) == ["node0", "node1", "node2"]


def test_every_daemon_is_a_container_whose_metrics_and_probes_answer(demo):
    _out, _running, lab = demo
    status = json.loads(lab.run("status", "--json").stdout)
    assert status["containers"] == [f"{lab.prefix}-controller"] + [
        f"{lab.prefix}-speaker-node{i}" for i in range(3)]
    daemons = {p["name"]: p for p in status["processes"]
               if p["name"] == "controller" or p["name"].startswith("speaker-")}
    assert len(daemons) == 4
    for name, process in daemons.items():
        assert process["running"], name
        assert process["probes"] == {"liveness /healthz": "200", "readiness /readyz": "200"}
    from urllib.request import urlopen

    with urlopen(f"http://{daemons['speaker-node1']['metrics']}/metrics", timeout=5) as r:
        assert 'metallb_bgp_session_up{peer="192.0.2.1"} 1.0' in r.read().decode()
    with urlopen(f"http://{daemons['controller']['metrics']}/metrics", timeout=5) as r:
        assert "metallb_allocator_addresses_in_use_total" in r.read().decode()


def _env(info: dict) -> dict[str, str]:
    return dict(e.split("=", 1) for e in info["Config"]["Env"])


@pytest.mark.parametrize("pod", ["controller", "speaker-node1"])
def test_running_container_is_what_the_pod_spec_asks_for(demo, pod):
    _out, running, lab = demo
    info = json.loads(podman("inspect", f"{lab.prefix}-{pod}").stdout)[0]
    assert info["State"]["Running"] is True
    assert info["Config"]["User"] == "10001:10001"
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    assert not info["EffectiveCaps"] and not info["BoundingCaps"]
    assert "no-new-privileges" in info["HostConfig"]["SecurityOpt"]
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    token = mounts["/var/run/secrets/kubernetes.io/serviceaccount"]
    assert token["RW"] is False
    env = _env(info)
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    status = podman("exec", f"{lab.prefix}-{pod}", "cat", "/proc/1/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Uid"].split()[:2] == ["10001", "10001"]
    assert int(fields["CapEff"], 16) == 0
    if pod == "speaker-node1":
        node = next(n for n in running.state.nodes if n.name == "node1")
        assert env["METALLB_NODE_NAME"] == "node1"  # fieldRef spec.nodeName
        assert env["METALLB_HOST"] == node.address  # fieldRef status.hostIP
        assert info["HostConfig"]["NetworkMode"] == f"ns:/run/netns/{node.namespace}"
        # emptyDir medium Memory -> tmpfs of its sizeLimit (read from the container's
        # mount table: podman inspect omits a mount below the /var/run symlink).
        mounted = podman("exec", f"{lab.prefix}-{pod}", "cat", "/proc/1/mounts").stdout
        tmpfs = {f[1]: f[3] for f in (line.split() for line in mounted.splitlines())
                 if f[0] == "tmpfs"}
        assert "size=32768k" in tmpfs["/run/metallb-speaker"]
        assert "size=16384k" in tmpfs["/tmp"]
    else:
        assert info["HostConfig"]["NetworkMode"] == f"ns:/run/netns/{lab.prefix}npod"
        assert "METALLB_NODE_NAME" not in env


def _withdraw_seconds(running: RunningLab, node_address: str, address: str,
                      action) -> tuple[float, float]:
    """Seconds from `action` to the router's kernel dropping `node_address` as a next
    hop of `address` (polled every 1-5 ms, as bench/e2e.py measures failover), and the
    wall-clock time it was seen."""
    poll_until(lambda: running.kernel_nexthops(address) == NODES, 60,
               what=f"{address} via every node first")
    start = time.monotonic()
    action()
    poll_until(lambda: node_address not in running.kernel_nexthops(address), 30,
               interval=0.001, max_interval=0.005, what=f"{node_address} withdrawn")
    return time.monotonic() - start, time.time()


def _shutdown_logged_at(log: str) -> float:
    """When the speaker logged that it began its shutdown (its UTC log timestamp)."""
    stamp = re.search(r"^ts=(\S+) .*event=shutdown ", log, re.M)
    assert stamp is not None, log[-2000:]
    when = datetime.datetime.strptime(stamp.group(1), "%Y-%m-%dT%H:%M:%S.%f")
    return when.replace(tzinfo=datetime.UTC).timestamp()


def test_container_stop_withdraws_the_nodes_routes_like_a_process_sigterm(demo, capsys):
    """The last test of the module: node2's speaker container is stopped for good, then
    node2 gets a speaker process (as without --containers) for the same measurement."""
    _out, running, lab = demo
    address = running.service_addresses("web")[0]
    node = next(n for n in running.state.nodes if n.name == "node2")
    container = f"{lab.prefix}-speaker-node2"
    stopping: list[subprocess.Popen] = []  # `podman stop`: SIGTERM, grace period, SIGKILL
    container_seconds, container_seen = _withdraw_seconds(
        running, node.address, address, lambda: stopping.append(subprocess.Popen(
            podman_command("stop", "-t", "30", container), env=podman_env(),
            stdout=subprocess.DEVNULL)))
    assert stopping[0].wait(timeout=60) == 0
    log = (lab.state_dir / "speaker-node2.log").read_text()
    assert "event=shutdown node=node2 action=withdraw_all" in log
    container_after_signal = container_seen - _shutdown_logged_at(log)
    assert "event=speaker_stopped node=node2" in log  # exited by itself, not SIGKILLed

    process = restart_speaker(str(lab.state_dir), "node2")
    process_seconds, process_seen = _withdraw_seconds(
        running, node.address, address, lambda: os.kill(process.pid, signal.SIGTERM))
    process_log = (lab.state_dir / "speaker-node2.log").read_text().split(log, 1)[-1]
    process_after_signal = process_seen - _shutdown_logged_at(process_log)
    with capsys.disabled():
        print(f"\nwithdraw seen at the router: podman stop {container_seconds * 1000:.0f} ms "
              f"({container_after_signal * 1000:.0f} ms after the speaker logged its "
              f"shutdown), process SIGTERM {process_seconds * 1000:.0f} ms "
              f"({process_after_signal * 1000:.0f} ms after)")


def test_a_pod_spec_the_image_cannot_satisfy_fails_up_loudly_and_leaves_nothing(
        image, monkeypatch):
    """A command the image does not have: `up` names the pod and podman's error, then
    tears down what it started."""
    import lab.containers
    from lab.cluster import UpOptions, up
    from lab.errors import LabError

    rendered = lab.containers.pod_template

    def missing_command(objects, kind, name):
        spec = rendered(objects, kind, name)
        if kind == "DaemonSet":
            spec["containers"][0]["command"] = ["metallb-not-in-the-image"]
        return spec

    monkeypatch.setattr(lab.containers, "pod_template", missing_command)
    with lab_env() as env:
        with pytest.raises(LabError) as err:
            up(UpOptions(nodes=1, state_dir=str(env.state_dir), prefix=env.prefix,
                         containers=True), progress=lambda line: None)
        assert "speaker-node0" in str(err.value)
        assert "metallb-not-in-the-image" in str(err.value)
        assert env.leftovers() == []
        names = podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert not [n for n in names if n.startswith(f"{env.prefix}-")]
