"""Fault injection from Python and over the HTTP control endpoint: deterministic when
seeded, scoped by verb and resource."""

from __future__ import annotations

import time

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from lab.apiserver import ApiServer, RemoteFaults
from tests.api.emulator.objects import configmap, request, service
from tests.api.emulator.waiting import Background
from tests.support.apiserver import api_client_for


@pytest.fixture
def core(kube_client):
    return client.CoreV1Api(kube_client)


def _outcomes(seed: int, n: int = 40) -> list[bool]:
    with ApiServer(seed=seed) as server, api_client_for(server) as api:
        server.faults.fail_share(0.5, verbs={"create"})
        core = client.CoreV1Api(api)
        results = []
        for i in range(n):
            try:
                core.create_namespaced_config_map("default", configmap(f"c{i}"))
                results.append(True)
            except ApiException as exc:
                assert exc.status == 500
                results.append(False)
        return results


def test_error_share_is_deterministic_when_seeded():
    first, second = _outcomes(7), _outcomes(7)
    assert first == second
    assert 5 < first.count(False) < 35
    assert _outcomes(8) != first


def test_error_share_scoped_to_verbs_and_resources(apiserver, core):
    apiserver.faults.fail_share(1.0, code=503, verbs={"create"}, resources={"services"})
    core.create_namespaced_config_map("default", configmap("ok"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("default", service("s"))
    assert err.value.status == 503
    assert core.list_namespaced_service("default").items == []
    assert apiserver.faults.injected == 1
    apiserver.faults.clear()
    core.create_namespaced_service("default", service("s"))


def test_status_subresource_scope(apiserver, core):
    core.create_namespaced_service("default", service("s"))
    apiserver.faults.fail_share(1.0, resources={"services/status"})
    core.patch_namespaced_service("s", "default", {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_service_status("s", "default", {"status": {}})
    assert err.value.status == 500


def test_forced_conflicts_for_the_next_n_requests(apiserver, core):
    core.create_namespaced_config_map("default", configmap("c"))
    apiserver.faults.force_status(409, count=2, verbs={"patch"})
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}})
        assert err.value.status == 409 and '"reason":"Conflict"' in err.value.body
    assert core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}}).data == {
        "a": "1"}


def test_forced_gone_on_list_and_on_watch(apiserver, core):
    apiserver.faults.force_status(410, verbs={"list"})
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map("default")
    assert err.value.status == 410
    apiserver.faults.force_status(410, verbs={"watch"})
    with pytest.raises(ApiException) as err:
        for _event in watch.Watch().stream(core.list_namespaced_config_map, "default",
                                           timeout_seconds=5):
            pass
    assert err.value.status == 410


def test_latency(apiserver, core):
    apiserver.faults.add_latency(0.3, verbs={"list"})
    started = time.monotonic()
    core.list_namespaced_config_map("default")
    assert time.monotonic() - started >= 0.3  # a lower bound: the delay was injected


def test_cut_watches_ends_open_streams(apiserver, core):
    bg = Background(apiserver, core.list_namespaced_config_map, 5, namespace="default",
                    timeout=30)
    assert apiserver.faults.cut_watches() == 1
    assert bg.result() == []


def test_remote_control_endpoint(apiserver, core):
    remote = RemoteFaults(apiserver.url)
    remote.reseed(3)
    remote.force_status(500, count=1, verbs={"get"})
    state = remote.to_dict()
    assert state["forced"] == [{"code": 500, "count": 1, "verbs": ["get"], "resources": []}]
    core.create_namespaced_config_map("default", configmap("c"))
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("c", "default")
    assert err.value.status == 500
    core.read_namespaced_config_map("c", "default")
    remote.fail_share(1.0, verbs={"delete"})
    remote.clear()
    assert remote.to_dict()["errors"] == []
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", configmap("d"))
    remote.expire_history()
    with pytest.raises(ApiException) as err:
        for _event in watch.Watch().stream(core.list_namespaced_config_map, "default",
                                           resource_version=rv, timeout_seconds=5):
            pass
    assert err.value.status == 410
    assert remote.cut_watches() == 0


def test_control_endpoint_explains_bad_requests(kube_client):
    status, body = request(kube_client, "POST", "/_emulator/faults", {"action": "explode"})
    assert status == 400 and "unknown action 'explode'" in body["message"]
    status, body = request(kube_client, "POST", "/_emulator/faults", {"action": "fail_share"})
    assert status == 400 and "needs the field 'share'" in body["message"]
    status, body = request(kube_client, "POST", "/_emulator/faults",
                           {"action": "fail_share", "share": 2})
    assert status == 400 and "between 0 and 1" in body["message"]
