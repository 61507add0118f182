"""Watch through kubernetes.watch.Watch: initial state, exact resume, 410 and relist,
bookmarks, timeouts, and selector transitions."""

from __future__ import annotations

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from lab.apiserver import ApiServer
from tests.api.emulator.objects import configmap
from tests.api.emulator.waiting import Background, watch_events
from tests.support.apiserver import api_client_for


@pytest.fixture
def core(kube_client):
    return client.CoreV1Api(kube_client)


def test_watch_without_version_sends_existing_then_changes(apiserver, core):
    core.create_namespaced_config_map("default", configmap("old"))
    bg = Background(apiserver, core.list_namespaced_config_map, 4, namespace="default")
    core.create_namespaced_config_map("default", configmap("new"))
    core.patch_namespaced_config_map("new", "default", {"data": {"a": "1"}})
    core.delete_namespaced_config_map("new", "default")
    events = bg.result()
    assert [(t, n) for t, n, _rv in events] == [
        ("ADDED", "old"), ("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "new")]
    versions = [int(rv) for _t, _n, rv in events[1:]]
    assert versions == sorted(versions)


def test_resume_from_exact_version(core):
    listed = core.list_namespaced_config_map("default")
    first = core.create_namespaced_config_map("default", configmap("a"))
    core.create_namespaced_config_map("default", configmap("b"))
    core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    events = watch_events(core.list_namespaced_config_map, 3, namespace="default",
                     resource_version=listed.metadata.resource_version)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "a"), ("ADDED", "b"),
                                               ("MODIFIED", "a")]
    events = watch_events(core.list_namespaced_config_map, 2, namespace="default",
                     resource_version=first.metadata.resource_version)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "b"), ("MODIFIED", "a")]


def test_expired_version_gets_410_then_relist_works():
    with ApiServer(history_limit=3) as server, api_client_for(server) as api:
        core = client.CoreV1Api(api)
        old = core.list_namespaced_config_map("default").metadata.resource_version
        for i in range(5):
            core.create_namespaced_config_map("default", configmap(f"c{i}"))
        with pytest.raises(ApiException) as err:
            watch_events(core.list_namespaced_config_map, 1, namespace="default",
                    resource_version=old)
        assert err.value.status == 410
        assert "too old resource version" in err.value.reason
        relisted = core.list_namespaced_config_map("default")
        assert len(relisted.items) == 5
        bg = Background(server, core.list_namespaced_config_map, 1, namespace="default",
                        resource_version=relisted.metadata.resource_version)
        core.create_namespaced_config_map("default", configmap("after"))
        assert [(t, n) for t, n, _ in bg.result()] == [("ADDED", "after")]


def test_watch_client_retries_once_after_410_without_timeout(apiserver, core):
    """Without timeout_seconds the official Watch retries once from its last version;
    a still-expired version then surfaces as ApiException(410)."""
    core.create_namespaced_config_map("default", configmap("x"))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", configmap("y"))
    apiserver.faults.expire_history()
    w = watch.Watch()
    with pytest.raises(ApiException) as err:
        for _event in w.stream(core.list_namespaced_config_map, namespace="default",
                               resource_version=rv, _request_timeout=10):
            pass
    assert err.value.status == 410


def test_bookmarks_periodic_and_at_timeout(make_apiserver):
    server = make_apiserver(bookmark_interval=0.2)
    with api_client_for(server) as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map("default", configmap("a"))
        rv = core.list_namespaced_config_map("default").metadata.resource_version
        seen = []
        for event in watch.Watch().stream(core.list_namespaced_config_map,
                                          namespace="default", resource_version=rv,
                                          allow_watch_bookmarks=True, timeout_seconds=1):
            seen.append((event["type"], event["raw_object"]["metadata"]["resourceVersion"]))
        assert len(seen) >= 3 and all(t == "BOOKMARK" for t, _ in seen)
        assert all(int(v) >= int(rv) for _t, v in seen)


def test_no_bookmarks_unless_allowed(apiserver, core):
    apiserver.bookmark_interval = 0.1
    events = watch_events(core.list_namespaced_config_map, 10, timeout=1, namespace="default",
                     resource_version=core.list_namespaced_config_map(
                         "default").metadata.resource_version)
    assert events == []


def test_timeout_seconds_ends_the_stream(core):
    events = watch_events(core.list_namespaced_config_map, 100, timeout=1, namespace="default")
    assert events == []


def test_label_selector_transitions_become_added_and_deleted(apiserver, core):
    core.create_namespaced_config_map("default", configmap("c"))
    bg = Background(apiserver, core.list_namespaced_config_map, 3, namespace="default",
                    label_selector="pick=yes")
    core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"pick": "yes"}}})
    core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}})
    core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"pick": "no"}}})
    assert [(t, n) for t, n, _ in bg.result()] == [("ADDED", "c"), ("MODIFIED", "c"),
                                                   ("DELETED", "c")]


def test_namespaced_and_field_selected_watches_see_only_their_objects(apiserver, core):
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": "other"}})
    bg_ns = Background(apiserver, core.list_namespaced_config_map, 1, namespace="other")
    bg_name = Background(apiserver, core.list_config_map_for_all_namespaces, 1,
                         field_selector="metadata.name=wanted")
    core.create_namespaced_config_map("default", configmap("unwanted"))
    core.create_namespaced_config_map("default", configmap("wanted"))
    core.create_namespaced_config_map("other", configmap("there"))
    assert [n for _t, n, _ in bg_ns.result()] == ["there"]
    assert [n for _t, n, _ in bg_name.result()] == ["wanted"]


def test_watch_stream_is_chunked_json_lines(apiserver, kube_client):
    response = client.CoreV1Api(kube_client).list_namespaced_config_map(
        "default", watch=True, timeout_seconds=1, _preload_content=False)
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert response.headers.get("Content-Type") == "application/json"
    response.read()
    response.release_conn()


def test_stopped_server_ends_open_watches(core):
    with ApiServer() as server, api_client_for(server) as api:
        bg = Background(server, client.CoreV1Api(api).list_namespaced_config_map, 1,
                        namespace="default")
    assert bg.result() == []
