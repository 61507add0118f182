"""LeanCoreV1Api puts on the wire exactly what the generated CoreV1Api sends for every
call it serves (the typed client is the oracle), answers with the same raw response,
raises the same ApiException, and hands everything else to the typed client."""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import parse_qsl

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from metallb.kube.lean_api import LeanCoreV1Api


def recording_client(status: int = 200) -> tuple[client.ApiClient, list]:
    configuration = client.Configuration()
    configuration.host = "https://192.0.2.10:6443"
    configuration.api_key = {"authorization": "Bearer t0ken"}
    api = client.ApiClient(configuration)
    sent: list = []

    def request(method, url, **kwargs):
        # the order of query parameters means nothing (the generated client's differs
        # from method to method)
        path, _, query = url.partition("?")
        body = kwargs.get("body")  # the typed client orders an event's keys its own way
        sent.append((method, path, sorted(parse_qsl(query)), body and json.loads(body),
                     dict(kwargs.get("headers") or {}), repr(kwargs.get("timeout")),
                     list(kwargs.get("fields") or [])))
        return SimpleNamespace(status=status, reason="R", data=b'{"kind":"Status"}',
                               headers={}, getheaders=lambda: {})

    api.rest_client.pool_manager = SimpleNamespace(request=request)
    return api, sent


CALLS = [
    ("list_service_for_all_namespaces", (), {}),
    ("list_service_for_all_namespaces", (), {
        "watch": True, "resource_version": "17", "timeout_seconds": 300,
        "allow_watch_bookmarks": True, "_request_timeout": (10, 330)}),
    ("list_service_for_all_namespaces", (), {"limit": 500, "_continue": "abc=="}),
    ("list_namespaced_config_map", ("metallb-system",), {
        "field_selector": "metadata.name=config", "limit": 500}),
    ("list_node", (), {"field_selector": "metadata.name=node-1", "label_selector": "a=b"}),
    ("list_namespace", (), {}),
    ("read_namespaced_service", ("web", "demo"), {"_request_timeout": 30}),
    ("patch_namespaced_service", ("web", "demo", {"metadata": {"annotations": {
        "metallb.io/ip-allocated-from-pool": "p"}}}), {}),
    ("patch_namespaced_service_status", ("we b/x", "demo"), {"body": {
        "metadata": {"resourceVersion": "5"},
        "status": {"loadBalancer": {"ingress": None}}}}),
    ("patch_namespaced_service_status", ("web", "demo", [
        {"op": "replace", "path": "/status", "value": {}}]), {}),
    ("create_namespaced_event", ("demo", {"metadata": {"name": "e"}, "reason": "R",
                                          "involvedObject": {"kind": "Service"}}), {}),
    ("patch_namespaced_event", ("e", "demo", {"count": 2}), {"_request_timeout": 5}),
]


@pytest.mark.parametrize(("method", "args", "kwargs"), CALLS)
def test_the_lean_client_sends_what_the_typed_client_sends(method, args, kwargs):
    typed_api, typed_sent = recording_client()
    lean_api, lean_sent = recording_client()
    kwargs = {**kwargs, "_preload_content": False}
    typed = getattr(client.CoreV1Api(typed_api), method)(*args, **kwargs)
    lean = getattr(LeanCoreV1Api(lean_api), method)(*args, **kwargs)
    assert lean_sent == typed_sent
    assert len(lean_sent) == 1
    assert lean.data == typed.data


def test_an_error_answer_raises_the_same_api_exception():
    errors = []
    for make in (client.CoreV1Api, LeanCoreV1Api):
        api, _sent = recording_client(status=409)
        with pytest.raises(ApiException) as caught:
            make(api).patch_namespaced_service_status("web", "demo", {"status": {}},
                                                      _preload_content=False)
        errors.append((caught.value.status, caught.value.reason, caught.value.body))
    assert errors[0] == errors[1]


def test_other_calls_go_to_the_typed_client():
    api, sent = recording_client()
    lean = LeanCoreV1Api(api)
    lean.delete_namespaced_service("web", "demo", _preload_content=False)  # not served
    assert sent[0][:2] == ("DELETE", "https://192.0.2.10:6443/api/v1/namespaces/demo/"
                                     "services/web")
    assert isinstance(lean.typed(), client.CoreV1Api)
    with pytest.raises(AttributeError):
        lean._no_such_thing  # noqa: B018
