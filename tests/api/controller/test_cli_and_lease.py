"""Flags and their environment defaults; a leader that loses its lease stops writing and
exits with code 1 (the Deployment restarts it) instead of fighting the new holder."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from kubernetes import client

from controller.cli import Settings, parse_settings
from metallb.wait import poll_until
from tests.api.controller.support import NAMESPACE, put_config, service, statuses


def test_defaults_follow_upstream(monkeypatch):
    monkeypatch.delenv("METALLB_NAMESPACE", raising=False)
    monkeypatch.delenv("METALLB_HOST", raising=False)
    s = parse_settings([])
    assert (s.namespace, s.config_name, s.config_key, s.host, s.port) == (
        "metallb-system", "metallb", "config", "0.0.0.0", 7472)
    assert s.leader_election and s.lease_name == "metallb-controller"
    assert s.lease_duration == 15.0 and s.identity  # hostname_pid
    assert s.load_balancer_class is None and s.kubeconfig is None


def test_environment_and_flags(monkeypatch):
    monkeypatch.setenv("METALLB_NAMESPACE", "lb")
    monkeypatch.setenv("METALLB_HOST", "127.0.0.1")
    s = parse_settings(["--config", "cfg", "--port", "9000", "--lb-class", "x/y",
                        "--disable-leader-election", "--identity", "me",
                        "--log-level", "debug"])
    assert (s.namespace, s.host, s.config_name, s.port) == ("lb", "127.0.0.1", "cfg", 9000)
    assert (s.load_balancer_class, s.leader_election, s.identity, s.log_level) == (
        "x/y", False, "me", "debug")


@pytest.mark.parametrize("argv", [["--port", "http"], ["--lease-duration", "0.1"],
                                  ["--log-level", "loud"]])
def test_bad_flags_exit_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_settings(argv)
    assert exc.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_lost_lease_stops_writing_and_exits_1(core, api_client, start_controller):
    put_config(core, "address-pools:\n- {name: p, protocol: bgp, addresses: [192.0.2.0/28]}\n")
    daemon = start_controller(leader_election=True, lease_duration=1.5)
    poll_until(lambda: daemon.is_leader, what="leading")
    coordination = client.CoordinationV1Api(api_client)
    lease = coordination.read_namespaced_lease("metallb-controller", NAMESPACE)
    lease.spec.holder_identity = "intruder"
    lease.spec.lease_duration_seconds = 3600
    lease.spec.renew_time = datetime.now(UTC)
    coordination.replace_namespaced_lease("metallb-controller", NAMESPACE, lease)

    assert daemon.wait(timeout=10), "the controller did not give up its lost lease"
    assert daemon.exit_code == 1 and not daemon.is_leader and not daemon.ready()
    poll_until(lambda: not daemon._worker.is_alive(), what="the writing worker ended")
    core.create_namespaced_service("demo", service("after-loss"))
    poll_until(lambda: "demo/after-loss" in statuses(core), what="service created")
    assert statuses(core)["demo/after-loss"] == []


def test_stop_releases_the_lease_before_draining_events(core, api_client, start_controller):
    """SIGTERM's stop(): stop writing, release the lease, then drain. An event sink that
    blocks until the test saw the lease released would deadlock a stop() that drains
    first (until its drain timeout, here longer than the test waits)."""
    put_config(core, "address-pools:\n- {name: p, protocol: bgp, addresses: [192.0.2.0/28]}\n")
    daemon = start_controller(leader_election=True, lease_duration=30.0,
                              event_drain_timeout=60.0)
    poll_until(lambda: daemon.is_leader, what="leading")
    entered, gate, drained = threading.Event(), threading.Event(), threading.Event()

    class BlockedSink:
        def record(self, *args):
            entered.set()
            gate.wait(60)

    daemon.events._recorder = BlockedSink()
    real_drain = daemon.events.stop

    def drain(timeout):
        try:
            real_drain(timeout)
        finally:
            drained.set()

    daemon.events.stop = drain
    core.create_namespaced_service("demo", service("evented"))
    poll_until(entered.is_set, what="an event stuck in the sink")

    stopper = threading.Thread(target=daemon.stop)
    stopper.start()
    coordination = client.CoordinationV1Api(api_client)
    try:
        poll_until(lambda: not coordination.read_namespaced_lease(
            "metallb-controller", NAMESPACE).spec.holder_identity, timeout=10,
            what="the lease released while events still drain")
        assert not drained.is_set()
    finally:
        gate.set()
        stopper.join(timeout=30)
    assert drained.is_set() and not stopper.is_alive()


def test_flag_defaults_are_read_from_the_settings_dataclass(monkeypatch):
    monkeypatch.delenv("METALLB_NAMESPACE", raising=False)
    monkeypatch.delenv("METALLB_HOST", raising=False)
    parsed = parse_settings(["--identity", "x"])
    assert parsed == Settings(identity="x")


@pytest.mark.parametrize("field", ["write_timeout", "event_timeout", "event_rate",
                                   "lease_duration"])
def test_impossible_settings_are_refused(field):
    with pytest.raises(ValueError, match=field):
        Settings(**{field: 0})
