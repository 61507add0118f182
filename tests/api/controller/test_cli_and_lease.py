"""Flags and their environment defaults; a leader that loses its lease stops writing and
exits with code 1 (the Deployment restarts it) instead of fighting the new holder."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kubernetes import client

from controller.cli import parse_settings
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
