"""Recording Events reuses the API client's connections: an answer left unread never
goes back to urllib3's pool, so every Event would open (and leak) a connection of its
own, one per Service allocated."""

from __future__ import annotations

from kubernetes import client

from metallb.kube.events import EventRecorder
from tests.support.apiserver import apiserver, kube_client  # noqa: F401


def _open_connections(api: client.ApiClient) -> int:
    return sum(pool.num_connections
               for pool in api.rest_client.pool_manager.pools._container.values())


def test_events_reuse_one_connection(kube_client):  # noqa: F811
    core = client.CoreV1Api(kube_client)
    core.create_namespace({"metadata": {"name": "conn"}})
    svc = kube_client.sanitize_for_serialization(core.create_namespaced_service("conn", {
        "metadata": {"name": "web"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}))
    before = _open_connections(kube_client)
    recorder = EventRecorder(kube_client, "metallb-controller", "replica-1")
    for i in range(10):
        recorder.record(svc, "Normal", "IPAllocated", f"Assigned IP 192.0.2.{i}")  # new
        recorder.record(svc, "Normal", "IPAllocated", f"Assigned IP 192.0.2.{i}")  # bump
    assert _open_connections(kube_client) - before <= 1
