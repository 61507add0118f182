"""The controller's status objects against the emulator, read back through the official
client and real kubectl: IPAddressPool.status counts, the Service's
metallb.io/AddressAssigned condition (set, updated and cleared as causes come and go,
other conditions untouched), and ConfigurationState `controller`."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime

import pytest
from kubernetes import client

from lab.harness.requires import require_program
from metallb.cli import main
from metallb.component.render import crd_objects
from metallb.status import config_state as config_state_names
from metallb.wait import poll_until
from speaker import status as speaker_status
from tests.api.controller.support import NAMESPACE, put_config, service, wait_statuses

TWO = """address-pools:
- {name: small, protocol: bgp, addresses: [198.51.100.20/31]}
"""
ONE = """address-pools:
- {name: small, protocol: bgp, addresses: [198.51.100.20/32]}
"""
CONDITION = "metallb.io/AddressAssigned"
GROUP = ("metallb.io", "v1beta1", NAMESPACE)


@pytest.fixture
def custom(api_client, core) -> client.CustomObjectsApi:
    """The metallb.io CRDs installed, and an IPAddressPool object `small` (the pool's
    status is said on the object of its name, whichever source the config came from).
    The tests run the controller with `config_source="configmap"`: with `auto` this
    object would make the metallb.io objects the config."""
    ext = client.ApiextensionsV1Api(api_client)
    for crd in crd_objects():
        ext.create_custom_resource_definition(crd)
    custom = client.CustomObjectsApi(api_client)
    custom.create_namespaced_custom_object(*GROUP, "ipaddresspools", {
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "small"}, "spec": {"addresses": ["198.51.100.20/31"]}})
    return custom


@pytest.fixture
def kubectl(apiserver, tmp_path):
    require_program("kubectl", "kubernetes-client")
    config = apiserver.write_kubeconfig(tmp_path / "kubectl-config")
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"), HOME=str(tmp_path))

    def run(*args: str) -> str:
        result = subprocess.run(["kubectl", "--kubeconfig", str(config), *args], env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run


def _conditions(core, name: str) -> list[dict]:
    """As the API wrote them (not re-serialized by the client)."""
    resp = core.read_namespaced_service_status(name, "demo", _preload_content=False)
    return (json.loads(resp.data).get("status") or {}).get("conditions") or []


def _condition(core, name: str) -> dict | None:
    for item in _conditions(core, name):
        if item["type"] == CONDITION:
            return item
    return None


def wait_condition(core, name: str, status: str, reason: str) -> dict:
    def seen():
        found = _condition(core, name)
        return found if found and (found["status"], found["reason"]) == (status, reason) \
            else None

    return poll_until(seen, timeout=15, what=f"{name}: {CONDITION} {status} {reason}")


def pool_status(custom) -> dict:
    return custom.get_namespaced_custom_object_status(*GROUP, "ipaddresspools",
                                                      "small").get("status") or {}


def wait_pool(custom, **expected: int) -> dict:
    return poll_until(lambda: (s := pool_status(custom)) and all(
        s.get(k) == v for k, v in expected.items()) and s, timeout=15,
        what=f"pool status {expected}")


def config_state(custom) -> dict:
    try:
        return custom.get_namespaced_custom_object(*GROUP, "configurationstates",
                                                   "controller")
    except client.ApiException as err:
        if err.status == 404:
            return {}
        raise


def wait_config_state(custom, result: str) -> dict:
    return poll_until(lambda: (obj := config_state(custom)) and (
        obj.get("status") or {}).get("result") == result and obj, timeout=15,
        what=f"ConfigurationState controller says {result}")


def test_pool_status_counts_follow_allocations(core, custom, start_controller, kubectl):
    put_config(core, TWO)
    start_controller(config_source="configmap")
    wait_pool(custom, assignedIPv4=0, availableIPv4=2)
    core.create_namespaced_service("demo", service("a"))
    core.create_namespaced_service("demo", service("b"))
    wait_statuses(core, {"demo/a": ["198.51.100.20"], "demo/b": ["198.51.100.21"]})
    assert wait_pool(custom, assignedIPv4=2, availableIPv4=0) == {
        "assignedIPv4": 2, "assignedIPv6": 0, "availableIPv4": 0, "availableIPv6": 0}
    pool = custom.get_namespaced_custom_object(*GROUP, "ipaddresspools", "small")
    assert pool["spec"]["addresses"] == ["198.51.100.20/31"]  # status only
    core.delete_namespaced_service("b", "demo")
    wait_pool(custom, assignedIPv4=1, availableIPv4=1)
    table = kubectl("get", "ipaddresspools", "-n", NAMESPACE).splitlines()
    assert table[0].split() == ["NAME", "AUTO", "ASSIGN", "AVOID", "BUGGY", "IPS",
                                "ADDRESSES", "ASSIGNED", "IPV4", "AVAILABLE", "IPV4",
                                "ASSIGNED", "IPV6", "AVAILABLE", "IPV6"]
    row = table[1].split()
    assert (row[0], row[-4:]) == ("small", ["1", "1", "0", "0"])  # usage, from the status
    assert kubectl("get", "ipaddresspool", "small", "-n", NAMESPACE, "-o",
                   "jsonpath={.status.assignedIPv4}/{.status.availableIPv4}") == "1/1"


def test_a_pending_service_says_why_and_the_condition_follows_the_cause(
        core, custom, start_controller, kubectl):
    put_config(core, TWO)
    for name in ("a", "b", "c"):
        core.create_namespaced_service("demo", service(name))
    # Another writer's condition on c: kept as it is.
    other = {"type": "example.com/Checked", "status": "True", "reason": "Fine",
             "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    core.patch_namespaced_service_status("c", "demo", {"status": {"conditions": [other]}})
    start_controller(config_source="configmap")
    wait_statuses(core, {"demo/a": ["198.51.100.20"], "demo/b": ["198.51.100.21"],
                         "demo/c": []})
    assigned = wait_condition(core, "a", "True", "Assigned")
    assert assigned["message"] == "198.51.100.20 from pool 'small'"
    pending = wait_condition(core, "c", "False", "PoolExhausted")
    assert pending["message"] == "cannot allocate an address: no available IPs"
    # kubectl describe prints no Service conditions (its describer has no such section):
    # the Event says it there; the condition outlives the Event.
    described = kubectl("describe", "svc", "c", "-n", "demo")
    assert "AllocationFailed" in described and "LoadBalancer Ingress" not in described
    shown = kubectl("get", "svc", "c", "-n", "demo", "-o",
                    f"jsonpath={{.status.conditions[?(@.type==\"{CONDITION}\")].reason}}")
    assert shown == "PoolExhausted"

    core.delete_namespaced_service("a", "demo")  # the cause goes away
    wait_statuses(core, {"demo/c": ["198.51.100.20"]})
    wait_condition(core, "c", "True", "Assigned")
    kubectl("wait", "--for=condition=metallb.io/AddressAssigned", "svc/c", "-n", "demo",
            "--timeout=15s")
    conditions = _conditions(core, "c")
    # The official client re-serializes a dict body's times as +00:00 (a real API
    # server, which parses them, answers ...Z again): the same instant.
    kept = dict(conditions[0], lastTransitionTime=datetime.fromisoformat(
        conditions[0]["lastTransitionTime"].replace("Z", "+00:00")))
    assert kept == dict(other, lastTransitionTime=datetime(2026, 1, 1, tzinfo=UTC))
    assert [c["type"] for c in conditions] == ["example.com/Checked", CONDITION]


def test_a_service_that_stops_being_a_load_balancer_loses_the_condition(
        core, custom, start_controller):
    put_config(core, TWO)
    core.create_namespaced_service("demo", service("a"))
    start_controller(config_source="configmap")
    wait_condition(core, "a", "True", "Assigned")
    core.patch_namespaced_service("a", "demo", {"spec": {"type": "ClusterIP"}})
    poll_until(lambda: _condition(core, "a") is None, timeout=15,
               what="the condition removed")


def test_unknown_pool_is_reported(core, custom, start_controller):
    put_config(core, TWO)
    core.create_namespaced_service("demo", service(
        "a", annotations={"metallb.universe.tf/address-pool": "nope"}))
    start_controller(config_source="configmap")
    found = wait_condition(core, "a", "False", "NoMatchingPool")
    assert found["message"] == 'cannot allocate an address: unknown pool "nope"'


def test_configuration_state_follows_the_config(core, custom, start_controller, kubectl):
    put_config(core, TWO)
    core.create_namespaced_service("demo", service("a"))
    core.create_namespaced_service("demo", service("b"))
    start_controller(config_source="configmap")
    valid = wait_config_state(custom, "Valid")
    assert valid["metadata"]["labels"] == {"metallb.io/component-type": "controller"}
    assert [(c["type"], c["status"], c["reason"]) for c in valid["status"]["conditions"]] == [
        ("configReconcilerValid", "True", "Reconciled")]
    wait_statuses(core, {"demo/a": ["198.51.100.20"], "demo/b": ["198.51.100.21"]})

    put_config(core, "address-pools: [{name: x}]\n")  # invalid
    invalid = wait_config_state(custom, "Invalid")["status"]
    assert invalid["conditions"][0]["reason"] == "ConfigurationError"
    assert "fix the config" in invalid["errorSummary"]

    put_config(core, TWO)
    wait_config_state(custom, "Valid")
    put_config(core, ONE)  # would take b's address: refused
    refused = wait_config_state(custom, "Invalid")["status"]
    assert "demo/b holds 198.51.100.21" in refused["errorSummary"]
    table = kubectl("get", "configurationstates", "-n", NAMESPACE).splitlines()
    assert table[0].split()[:3] == ["NAME", "RESULT", "ERRORSUMMARY"]
    assert table[1].split()[:2] == ["controller", "Invalid"]

    # The blocking service goes: the refused config is tried again and applied, with
    # no config change (upstream retries a refused config with backoff).
    core.delete_namespaced_service("b", "demo")
    assert wait_config_state(custom, "Valid")["status"].get("errorSummary", "") == ""
    wait_pool(custom, assignedIPv4=1)
    wait_statuses(core, {"demo/a": ["198.51.100.20"]})


def test_status_off_writes_no_status_objects(core, custom, start_controller):
    put_config(core, TWO)
    core.create_namespaced_service("demo", service("a"))
    daemon = start_controller(status=False, config_source="configmap")
    wait_statuses(core, {"demo/a": ["198.51.100.20"]})
    assert daemon.status is None
    assert _condition(core, "a") is None
    assert pool_status(custom) == {}
    assert config_state(custom) == {}


def test_metallb_status_shows_pools_config_state_and_pending_services(
        core, custom, start_controller, kubeconfig, capsys):
    put_config(core, TWO)
    for name in ("a", "b", "c"):
        core.create_namespaced_service("demo", service(name))
    start_controller(config_source="configmap")
    wait_condition(core, "c", "False", "PoolExhausted")
    wait_pool(custom, assignedIPv4=2, availableIPv4=0)
    wait_config_state(custom, "Valid")
    assert main(["status", "--kubeconfig", str(kubeconfig), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pools"] == [{"name": "small", "size": 2, "inUse": 2, "reported": True}]
    assert summary["configurationStates"] == [
        {"name": "controller", "result": "Valid", "errorSummary": ""}]
    assert summary["pendingServices"] == [
        {"service": "demo/c", "reason": "PoolExhausted",
         "message": "cannot allocate an address: no available IPs"}]
    assert summary["sessions"] == []
    assert main(["status", "--kubeconfig", str(kubeconfig)]) == 0
    text = capsys.readouterr().out
    assert "  small  2     2" in text
    assert "  demo/c   PoolExhausted  cannot allocate an address: no available IPs" in text


def test_metallb_status_without_an_api_exits_2(tmp_path, capsys):
    missing = tmp_path / "kubeconfig"
    missing.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n"
                       "    server: https://127.0.0.1:1\ncontexts:\n- name: x\n  context:\n"
                       "    cluster: x\ncurrent-context: x\nusers: []\n")
    assert main(["status", "--kubeconfig", str(missing)]) == 2
    assert "cannot read the cluster" in capsys.readouterr().err


def _speaker_objects(custom, node: str) -> None:
    """What a speaker of `node` writes: a ServiceBGPStatus, a BGPSessionState and its
    ConfigurationState (labels as speaker.status and metallb.status.config_state)."""
    bodies = (
        ("servicebgpstatuses", "ServiceBGPStatus", {"generateName": "bgp-", "labels": {
            speaker_status.NODE_LABEL: node, speaker_status.SERVICE_NAME_LABEL: "a",
            speaker_status.SERVICE_NAMESPACE_LABEL: "demo"}}),
        ("bgpsessionstates", "BGPSessionState", {
            "name": speaker_status.session_object_name(node, "192.0.2.1"),
            "labels": {speaker_status.NODE_LABEL: node,
                       speaker_status.PEER_LABEL: "192.0.2.1"}}),
        ("configurationstates", "ConfigurationState", {
            "name": config_state_names.object_name("speaker", node),
            "labels": config_state_names.labels("speaker", node)}))
    for plural, kind, meta in bodies:
        custom.create_namespaced_custom_object(*GROUP, plural, {
            "apiVersion": "metallb.io/v1beta1", "kind": kind, "metadata": meta})


def _nodes_with_objects(custom) -> dict[str, set[str]]:
    """plural -> the nodes its objects name."""
    found: dict[str, set[str]] = {}
    for plural, label in (("servicebgpstatuses", speaker_status.NODE_LABEL),
                          ("bgpsessionstates", speaker_status.NODE_LABEL),
                          ("configurationstates", config_state_names.NODE_LABEL)):
        items = custom.list_namespaced_custom_object(*GROUP, plural)["items"]
        found[plural] = {i["metadata"]["labels"].get(label) for i in items} - {None}
    return found


def _wait_nodes_with_objects(custom, nodes: set[str]) -> None:
    expected = dict.fromkeys(("servicebgpstatuses", "bgpsessionstates",
                              "configurationstates"), nodes)
    poll_until(lambda: _nodes_with_objects(custom) == expected, timeout=15,
               what=f"status objects of exactly the nodes {sorted(nodes)}")


def test_status_objects_of_a_removed_node_are_deleted(core, custom, start_controller):
    """A deleted Node's speaker status objects go (the controller deletes them: the API
    emulator has no garbage collector for ownerReferences); a node removed while no
    controller ran is swept when one starts leading; live nodes keep theirs."""
    put_config(core, TWO)
    for node in ("node-a", "node-b"):
        core.create_node({"metadata": {"name": node}})
    for node in ("node-a", "node-b", "node-gone"):
        _speaker_objects(custom, node)
    assert _nodes_with_objects(custom)["configurationstates"] == {
        "node-a", "node-b", "node-gone"}

    start_controller(config_source="configmap")
    wait_config_state(custom, "Valid")
    _wait_nodes_with_objects(custom, {"node-a", "node-b"})

    core.delete_node("node-a")
    _wait_nodes_with_objects(custom, {"node-b"})
    assert config_state(custom), "the controller's own ConfigurationState stays"
    # a node of the same name that comes back and goes again is cleaned up again
    core.create_node({"metadata": {"name": "node-a"}})
    _speaker_objects(custom, "node-a")
    _wait_nodes_with_objects(custom, {"node-a", "node-b"})
    core.delete_node("node-a")
    _wait_nodes_with_objects(custom, {"node-b"})
