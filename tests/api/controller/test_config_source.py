"""Which source the controller's config comes from (`--config-source`), live against the
emulator: the ConfigMap alone, the metallb.io objects alone, `auto` switching both ways,
an invalid object, and the CRDs not installed at all (issue 14, "Which source")."""

from __future__ import annotations

from kubernetes import client

from lab.harness.config_objects import converted, delete_object, install_crds, put_objects
from metallb.wait import poll_until
from tests.api.controller.support import (
    CONFIG_NAME,
    NAMESPACE,
    metric_value,
    put_config,
    service,
    statuses,
    wait_statuses,
)

POOL_A = "address-pools:\n- {name: a, protocol: bgp, addresses: [192.0.2.0/28]}\n"
POOL_AB = POOL_A + "- {name: b, protocol: bgp, addresses: [198.51.100.0/28]}\n"
POOL_B = "address-pools:\n- {name: b, protocol: bgp, addresses: [198.51.100.0/28]}\n"
IN_B = {"metallb.universe.tf/address-pool": "b"}
STALE = "metallb_k8s_client_config_stale_bool"


def _events(core: client.CoreV1Api, kind: str, name: str) -> list[tuple[str, str, str]]:
    return [(e.type, e.reason, e.message) for e in core.list_namespaced_event(NAMESPACE).items
            if e.involved_object.kind == kind and e.involved_object.name == name]


def _bad_peer() -> dict:
    return {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": "peer1", "namespace": NAMESPACE},
            "spec": {"myASN": 64513, "peerASN": 64512, "peerAddress": "192.0.2.254",
                     "holdTime": "1s"}}


def test_crds_source_reads_the_objects_and_ignores_the_configmap(core, api_client,
                                                                  start_controller):
    install_crds(api_client)
    put_config(core, POOL_A)
    put_objects(api_client, NAMESPACE, converted(POOL_B, NAMESPACE))
    start_controller(config_source="crds")
    core.create_namespaced_service("demo", service("web"))
    wait_statuses(core, {"demo/web": ["198.51.100.0"]})


def test_configmap_source_reads_the_configmap_and_ignores_the_objects(core, api_client,
                                                                      start_controller):
    install_crds(api_client)
    put_config(core, POOL_A)
    put_objects(api_client, NAMESPACE, converted(POOL_B, NAMESPACE))
    daemon = start_controller(config_source="configmap")
    assert [i.name for i in daemon.config_inputs.informers] == ["config"]
    core.create_namespaced_service("demo", service("web"))
    wait_statuses(core, {"demo/web": ["192.0.2.0"]})


def test_auto_switches_to_the_objects_and_back_without_moving_an_address(
        core, api_client, start_controller):
    install_crds(api_client)
    put_config(core, POOL_A)
    daemon = start_controller()
    core.create_namespaced_service("demo", service("web"))
    core.create_namespaced_service("demo", service("in-b", annotations=IN_B))
    wait_statuses(core, {"demo/web": ["192.0.2.0"], "demo/in-b": []})

    # The objects say more than the ConfigMap (pool b): they are the config now.
    put_objects(api_client, NAMESPACE, converted(POOL_AB, NAMESPACE))
    wait_statuses(core, {"demo/web": ["192.0.2.0"], "demo/in-b": ["198.51.100.0"]})
    poll_until(lambda: _events(core, "ConfigMap", CONFIG_NAME), what="ConfigMapIgnored")
    [(type_, reason, message)] = _events(core, "ConfigMap", CONFIG_NAME)
    assert (type_, reason) == ("Normal", "ConfigMapIgnored")
    assert "ignored" in message

    # A changed ConfigMap changes nothing while the objects exist.
    put_config(core, POOL_A + "- {name: c, protocol: bgp, addresses: [203.0.113.0/28]}\n")
    core.create_namespaced_service("demo", service("in-c", annotations={
        "metallb.universe.tf/address-pool": "c"}))
    core.create_namespaced_service("demo", service("marker", annotations=IN_B))
    wait_statuses(core, {"demo/marker": ["198.51.100.1"]})
    assert statuses(core)["demo/in-c"] == []

    # Every object deleted (b's holder deleted first, or the switch would be refused):
    # back to the ConfigMap, which now has pool c.
    for name in ("in-b", "marker"):
        core.delete_namespaced_service(name, "demo")
    put_objects(api_client, NAMESPACE, [])
    wait_statuses(core, {"demo/web": ["192.0.2.0"], "demo/in-c": ["203.0.113.0"]})
    assert daemon.reconciler._source.source == "configmap"


def test_switch_that_would_take_an_address_is_refused(core, api_client, start_controller):
    install_crds(api_client)
    put_config(core, POOL_A)
    daemon = start_controller()
    core.create_namespaced_service("demo", service("web"))
    wait_statuses(core, {"demo/web": ["192.0.2.0"]})
    port = daemon.metrics_server.port
    put_objects(api_client, NAMESPACE, converted(POOL_B, NAMESPACE))  # drops 192.0.2.0
    poll_until(lambda: metric_value(port, STALE) == 1, what="the refused switch is stale")
    core.create_namespaced_service("demo", service("next"))
    wait_statuses(core, {"demo/web": ["192.0.2.0"], "demo/next": ["192.0.2.1"]})
    put_objects(api_client, NAMESPACE, converted(POOL_AB, NAMESPACE))
    poll_until(lambda: metric_value(port, STALE) == 0, what="the objects accepted")
    assert statuses(core)["demo/web"] == ["192.0.2.0"]


def test_invalid_object_gets_a_warning_event_and_the_last_good_config_stays(
        core, api_client, start_controller, caplog):
    install_crds(api_client)
    put_objects(api_client, NAMESPACE, converted(POOL_A, NAMESPACE))
    daemon = start_controller(config_source="crds")
    port = daemon.metrics_server.port
    core.create_namespaced_service("demo", service("web"))
    wait_statuses(core, {"demo/web": ["192.0.2.0"]})
    assert metric_value(port, STALE) == 0

    put_objects(api_client, NAMESPACE, [_bad_peer(), *converted(POOL_AB, NAMESPACE)])
    poll_until(lambda: _events(core, "BGPPeer", "peer1"), what="the Warning Event")
    [(type_, reason, message)] = _events(core, "BGPPeer", "peer1")
    assert (type_, reason) == ("Warning", "InvalidConfig")
    assert message.startswith("spec.holdTime: must be 0 (no keepalives) or at least 3s")
    assert metric_value(port, STALE) == 1
    assert any("BGPPeer/peer1: spec.holdTime" in r.getMessage() for r in caplog.records)
    # The last good config (pool a only) stays: b is not there yet.
    core.create_namespaced_service("demo", service("in-b", annotations=IN_B))
    core.create_namespaced_service("demo", service("next"))
    wait_statuses(core, {"demo/web": ["192.0.2.0"], "demo/next": ["192.0.2.1"],
                         "demo/in-b": []})

    delete_object(api_client, NAMESPACE, "BGPPeer", "peer1")
    wait_statuses(core, {"demo/in-b": ["198.51.100.0"]})
    assert metric_value(port, STALE) == 0


def test_crds_not_installed_auto_runs_on_the_configmap_and_picks_them_up_later(
        core, api_client, start_controller):
    put_config(core, POOL_A)
    daemon = start_controller(config_kind_retry=0.3)
    core.create_namespaced_service("demo", service("web"))
    wait_statuses(core, {"demo/web": ["192.0.2.0"]})
    assert daemon.ready()
    assert all(i.missing for i in daemon.config_inputs.kinds.values())

    install_crds(api_client)
    put_objects(api_client, NAMESPACE, converted(POOL_AB, NAMESPACE))
    core.create_namespaced_service("demo", service("in-b", annotations=IN_B))
    wait_statuses(core, {"demo/web": ["192.0.2.0"], "demo/in-b": ["198.51.100.0"]})
