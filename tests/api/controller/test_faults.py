"""API trouble, injected by the emulator: expired watches (410), 500s on writes and on
list/watch, forced conflicts. The controller retries and converges; it never dies."""

from __future__ import annotations

import logging

from metallb.wait import poll_until
from tests.api.controller.support import (
    assert_unique_and_kept,
    metric_value,
    put_config,
    service,
    statuses,
    wait_statuses,
)

CONFIG = "address-pools:\n- {name: p, protocol: bgp, addresses: [203.0.113.0/26]}\n"


def _all_assigned(core, count):
    def check():
        now = statuses(core, "demo")
        return now if len(now) == count and all(now.values()) else None
    return check


def test_watch_expiry_relists_and_converges(core, start_controller, apiserver):
    # Five addresses: the new service can only get the one the deleted service frees.
    put_config(core, "address-pools:\n- {name: p, protocol: bgp, addresses: "
                     "[203.0.113.0-203.0.113.4]}\n")
    daemon = start_controller()
    for i in range(5):
        core.create_namespaced_service("demo", service(f"s{i}"))
    before = poll_until(_all_assigned(core, 5), what="first services assigned")
    relists = daemon.services.relists

    apiserver.faults.force_status(410, count=1, verbs={"watch"}, resources={"services"})
    apiserver.faults.cut_watches()
    core.delete_namespaced_service("s0", "demo")
    core.create_namespaced_service("demo", service("after-expiry"))
    poll_until(lambda: daemon.services.relists > relists, what="services informer relisted")
    after = wait_statuses(core, {"demo/after-expiry": before.pop("demo/s0")})
    assert_unique_and_kept(before, after)


def test_500s_on_writes_are_retried(core, start_controller, apiserver):
    put_config(core, CONFIG)
    daemon = start_controller()
    apiserver.faults.reseed(7)
    apiserver.faults.fail_share(0.4, code=500, verbs={"update", "patch"},
                                resources={"services"})
    for i in range(20):
        core.create_namespaced_service("demo", service(f"flaky-{i:02d}"))
    after = poll_until(_all_assigned(core, 20), timeout=30, what="all assigned despite 500s")
    assert_unique_and_kept({}, after)
    assert sorted(ip for ips in after.values() for ip in ips) == sorted(
        f"203.0.113.{i}" for i in range(20))
    assert metric_value(daemon.metrics_server.port,
                        "metallb_k8s_client_update_errors_total") > 0
    assert apiserver.faults.injected > 0


def test_forced_conflict_rereads_and_retries(core, start_controller, apiserver, caplog):
    caplog.set_level(logging.INFO, logger="metallb.controller")
    put_config(core, CONFIG)
    start_controller()
    apiserver.faults.force_status(409, count=2, verbs={"patch"}, resources={"services/status"})
    core.create_namespaced_service("demo", service("contested"))
    wait_statuses(core, {"demo/contested": ["203.0.113.0"]})
    assert "event=status_conflict" in caplog.text


def test_list_and_watch_failures_do_not_kill_it(core, start_controller, apiserver):
    put_config(core, CONFIG)
    daemon = start_controller()
    poll_until(daemon.ready, what="ready")
    apiserver.faults.fail_share(1.0, code=500, verbs={"list", "watch"})
    apiserver.faults.cut_watches()
    core.create_namespaced_service("demo", service("during-outage"))
    poll_until(lambda: apiserver.faults.injected >= 3, what="informers retried into the 500s")
    apiserver.faults.clear()
    wait_statuses(core, {"demo/during-outage": ["203.0.113.0"]}, timeout=20)
    assert daemon.ready()
