"""Config changes, live: none yet, valid, invalid, incompatible, missing, restored; the
stale and loaded metrics are read from /metrics."""

from __future__ import annotations

from metallb.wait import poll_until
from tests.api.controller.support import (
    CONFIG_NAME,
    NAMESPACE,
    fetch,
    metric_value,
    put_config,
    service,
    statuses,
    wait_statuses,
)

ONE = "address-pools:\n- {name: one, protocol: bgp, addresses: [192.0.2.0/31]}\n"
ONE_AND_TWO = ONE + "- {name: two, protocol: bgp, addresses: [198.51.100.0/30]}\n"
ONLY_TWO = "address-pools:\n- {name: two, protocol: bgp, addresses: [198.51.100.0/30]}\n"
INVALID = "address-pools:\n- {name: one, protocol: bgp, addresses: [192.0.2.0/31], colour: red}\n"


def _gauge(port: int, name: str):
    return lambda: metric_value(port, f"metallb_k8s_client_{name}_bool")


# rules C4, A15 and D2
def test_config_lifecycle(core, start_controller, caplog):
    daemon = start_controller()
    port = daemon.metrics_server.port
    loaded, stale = _gauge(port, "config_loaded"), _gauge(port, "config_stale")

    # No config ever loaded: no allocation, services stay pending, loaded 0, still ready.
    core.create_namespaced_service("demo", service("early"))
    poll_until(daemon.ready, what="controller ready")
    assert fetch(f"http://127.0.0.1:{port}/readyz")[0] == 200
    assert fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200
    poll_until(lambda: "config_missing" in caplog.text, what="a config_missing log line")
    assert loaded() == 0 and stale() == 0
    assert statuses(core)["demo/early"] == []

    put_config(core, ONE)
    wait_statuses(core, {"demo/early": ["192.0.2.0"]})
    assert loaded() == 1 and stale() == 0

    # Invalid: the last good config stays (allocation goes on with it), stale 1.
    put_config(core, INVALID)
    poll_until(lambda: stale() == 1, what="stale after an invalid config")
    assert "colour" in caplog.text and "config_invalid" in caplog.text
    core.create_namespaced_service("demo", service("during-invalid"))
    wait_statuses(core, {"demo/during-invalid": ["192.0.2.1"]})

    # Restored: stale 0.
    put_config(core, ONE)
    poll_until(lambda: stale() == 0, what="not stale after the good config is back")

    # Would take addresses from services: refused, naming them.
    put_config(core, ONLY_TWO)
    poll_until(lambda: stale() == 1, what="stale after an incompatible config")
    refusal = [r.getMessage() for r in caplog.records if "config_refused" in r.getMessage()]
    assert refusal and "demo/early" in refusal[-1] and "demo/during-invalid" in refusal[-1]
    assert metric_value(port, 'metallb_allocator_addresses_total{pool="one"}') == 2

    # A compatible one that grows the pools: applied, and a pending service gets an address.
    core.create_namespaced_service("demo", service("pending"))
    poll_until(lambda: "demo/pending" in daemon.reconciler.core.pending, what="pending service")
    put_config(core, ONE_AND_TWO)
    wait_statuses(core, {"demo/pending": ["198.51.100.0"]})
    assert stale() == 0
    assert metric_value(port, 'metallb_allocator_addresses_total{pool="two"}') == 4

    # Deleted ConfigMap: keep running on the last good one, stale 1; recreated: 0.
    core.delete_namespaced_config_map(CONFIG_NAME, NAMESPACE)
    poll_until(lambda: stale() == 1, what="stale after the ConfigMap is deleted")
    assert loaded() == 1
    put_config(core, ONE_AND_TWO)
    poll_until(lambda: stale() == 0, what="not stale after the ConfigMap is recreated")
    assert statuses(core) == {"demo/early": ["192.0.2.0"], "demo/during-invalid": ["192.0.2.1"],
                              "demo/pending": ["198.51.100.0"]}


# rule A14
def test_removed_pool_series_disappear(core, start_controller):
    put_config(core, ONE_AND_TWO)
    daemon = start_controller()
    port = daemon.metrics_server.port
    poll_until(lambda: metric_value(port, 'metallb_allocator_addresses_total{pool="two"}') == 4,
               what="pool two exported")
    put_config(core, ONE)
    poll_until(lambda: metric_value(port, 'metallb_allocator_addresses_total{pool="two"}')
               is None, what="pool two series removed")
    assert metric_value(port, 'metallb_allocator_addresses_in_use_total{pool="two"}') is None
    assert metric_value(port, 'metallb_allocator_addresses_total{pool="one"}') == 2
