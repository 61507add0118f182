"""Crashes and leader changes with real controller processes: `kill -9` in the middle of
a burst of creates, restart, two replicas. No address may change hands or be held twice."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from metallb.kube.errors import is_not_found
from metallb.wait import poll_until
from tests.api.controller.support import (
    NAMESPACE,
    assert_unique_and_kept,
    put_config,
    service,
    statuses,
)

CONFIG = "address-pools:\n- {name: burst, protocol: bgp, addresses: [198.51.100.0/24]}\n"
BURST = 80
LEASE = "metallb-controller"


class Burst:
    """Creates services from a thread, so a controller can die in the middle."""

    def __init__(self, core: client.CoreV1Api, count: int = BURST):
        self.core, self.count = core, count
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for i in range(self.count):
                self.core.create_namespaced_service("demo", service(f"burst-{i:03d}"))
        except Exception as err:  # surfaced by join()
            self.error = err

    def start(self) -> Burst:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join(60)
        assert self.error is None, self.error


def _assigned(core) -> dict[str, list[str]]:
    return {k: v for k, v in statuses(core, "demo").items() if v}


def _all_assigned(core, count: int = BURST):
    def check():
        now = statuses(core, "demo")
        return now if len(now) == count and all(now.values()) else None
    return check


def _holder(coordination: client.CoordinationV1Api) -> str:
    try:
        return coordination.read_namespaced_lease(LEASE, NAMESPACE).spec.holder_identity or ""
    except ApiException as err:
        if is_not_found(err):
            return ""
        raise


# rule A13
def test_kill9_mid_burst_then_restart_keeps_every_address(core, spawn_controller):
    put_config(core, CONFIG)
    first = spawn_controller("first", "--disable-leader-election")
    poll_until(first.ready, timeout=20, what="first controller ready")
    burst = Burst(core).start()
    poll_until(lambda: len(_assigned(core)) >= BURST // 4, timeout=30,
               what="a quarter of the burst assigned")
    first.kill()
    before = statuses(core, "demo")
    burst.join()
    assert 0 < sum(1 for ips in before.values() if ips) < BURST  # killed mid-burst

    second = spawn_controller("second", "--disable-leader-election")
    after = poll_until(_all_assigned(core), timeout=30, what="every service assigned")
    assert_unique_and_kept(before, after)
    assert "event=assignments_loaded" in second.log_text()


def test_leader_killed_mid_burst_standby_takes_over(core, api_client, spawn_controller):
    put_config(core, CONFIG)
    coordination = client.CoordinationV1Api(api_client)
    replicas = {name: spawn_controller(name, lease_duration=2.0) for name in ("r1", "r2")}
    for proc in replicas.values():
        poll_until(proc.ready, timeout=20, what=f"{proc.identity} ready")
    leader_name = poll_until(lambda: _holder(coordination), timeout=10, what="a leader")
    leader = replicas[leader_name]
    standby = next(p for n, p in replicas.items() if n != leader_name)

    burst = Burst(core).start()
    poll_until(lambda: len(_assigned(core)) >= BURST // 4, timeout=30,
               what="a quarter of the burst assigned")
    # Only the leader wrote: every event so far comes from it.
    instances = poll_until(  # events go out from their own thread, after the statuses
        lambda: {e.reporting_instance for e in core.list_namespaced_event("demo").items},
        timeout=30, what="events of the burst")
    assert instances == {leader_name}
    assert "event=status_written" not in standby.log_text()

    leader.kill()
    before = statuses(core, "demo")
    burst.join()
    poll_until(lambda: _holder(coordination) == standby.identity, timeout=2.0 + 5,
               what="standby holds the lease within the lease duration (+ its retry)")
    after = poll_until(_all_assigned(core), timeout=30, what="every service assigned")
    assert_unique_and_kept(before, after)


def test_sigterm_releases_the_lease_at_once(core, api_client, spawn_controller):
    put_config(core, CONFIG)
    coordination = client.CoordinationV1Api(api_client)
    # A long lease: a standby that waited for it to expire would take 30 s.
    replicas = {n: spawn_controller(n, lease_duration=30.0) for n in ("s1", "s2")}
    leader_name = poll_until(lambda: _holder(coordination), timeout=20, what="a leader")
    standby = next(p for n, p in replicas.items() if n != leader_name)
    poll_until(standby.ready, timeout=20, what="standby ready")

    assert replicas[leader_name].terminate() == 0
    poll_until(lambda: _holder(coordination) == standby.identity, timeout=10,
               what="standby took the released lease long before it would expire")
    core.create_namespaced_service("demo", service("after-handover"))
    poll_until(lambda: statuses(core, "demo").get("demo/after-handover"), timeout=15,
               what="the new leader assigns")


@pytest.mark.parametrize("flags", [("--kubeconfig", "/nonexistent/kubeconfig")])
def test_bad_kubeconfig_is_a_clear_error_not_a_traceback(tmp_path, flags):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "controller", *flags, "--port", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "event=no_cluster" in result.stderr and "/nonexistent/kubeconfig" in result.stderr
    assert "Traceback" not in result.stderr
