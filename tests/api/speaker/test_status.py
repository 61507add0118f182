"""The speaker's status objects against the emulator: ConfigurationState
`speaker-<node>`, ServiceBGPStatus per announced Service, BGPSessionState per peer;
what an earlier speaker of the node left is removed at start, another node's objects
stay; a stopping speaker removes its own. The BGP side is a backend that reports every
session up (the BGPBackend seam): what is tested here is what the speaker says in the
API, not BGP (tests/bgp run the real ExaBGP against FRR)."""

from __future__ import annotations

import functools
import os
import subprocess
import time
from collections.abc import Iterable, Mapping

import pytest
import yaml
from kubernetes import client

import speaker.daemon
from lab.harness.requires import require_program
from metallb.component.render import crd_objects
from metallb.wait import poll_until
from speaker.bgp import PeerSpec, SessionState
from speaker.daemon import SpeakerDaemon
from speaker.settings import SpeakerSettings
from speaker.status import SpeakerStatus
from tests.api.controller.support import ensure_namespace
from tests.support.apiserver import apiserver, kube_client  # noqa: F401

NAMESPACE = "metallb-system"
GROUP = ("metallb.io", "v1beta1", NAMESPACE)
CONFIG = {
    "peers": [{"peer-address": "192.0.2.1", "peer-asn": 64500, "my-asn": 64501}],
    "address-pools": [{"name": "default", "protocol": "bgp",
                       "addresses": ["198.51.100.0/24"]}],
}


class UpBackend:
    """Every configured session is up and every route acknowledged at once."""

    announce_ahead = None

    def __init__(self, *args, **kwargs):
        self._peers: list[str] = []
        self._routes: dict[str, set[str]] = {}
        self._since = time.time()

    def start(self):
        return self

    def stop(self, withdraw: bool = True) -> None:
        self._routes = {}

    def set_peers(self, peers: Iterable[PeerSpec]) -> None:
        self._peers = [p.peer_address for p in peers]

    def set_routes(self, routes: Mapping[str, Mapping], canonical: bool = False) -> None:
        self._routes = {peer: set(table) for peer, table in routes.items()}

    def change_routes(self, changes: Mapping[str, Mapping]) -> None:
        for peer, table in changes.items():
            held = self._routes.setdefault(peer, set())
            held.difference_update(p for p, attrs in table.items() if attrs is None)
            held.update(p for p, attrs in table.items() if attrs is not None)

    def teardown(self, peer: str) -> bool:
        return peer in self._peers

    def sessions(self) -> dict[str, SessionState]:
        return {p: SessionState(p, "up", True, None, self._since, len(self._routes.get(p, ())),
                                len(self._routes.get(p, ())), 0) for p in self._peers}

    def busy(self) -> bool:
        return False


@pytest.fixture
def cluster(kube_client, monkeypatch):  # noqa: F811
    monkeypatch.setattr(speaker.daemon, "make_backend", lambda *a, **k: UpBackend())
    ext = client.ApiextensionsV1Api(kube_client)
    for crd in crd_objects():
        ext.create_custom_resource_definition(crd)
    return node_and_config(kube_client), client.CustomObjectsApi(kube_client)


def node_and_config(kube_client) -> client.CoreV1Api:  # noqa: F811
    """The namespace, Node node-a (with its address) and the config."""
    core = client.CoreV1Api(kube_client)
    ensure_namespace(core, NAMESPACE)
    core.create_node({"metadata": {"name": "node-a"}, "status": {
        "addresses": [{"type": "InternalIP", "address": "192.0.2.10"}]}})
    core.create_namespaced_config_map(NAMESPACE, {
        "metadata": {"name": "metallb"}, "data": {"config": yaml.safe_dump(CONFIG)}})
    return core


@pytest.fixture
def start_speaker(kube_client, tmp_path):  # noqa: F811
    started: list[SpeakerDaemon] = []

    def start() -> SpeakerDaemon:
        settings = SpeakerSettings(node_name="node-a", namespace=NAMESPACE,
                                   host="127.0.0.1", port=0, state_dir=str(tmp_path))
        daemon = SpeakerDaemon(settings, kube_client).start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


def announced_service(core, name: str, ip: str) -> None:
    core.create_namespaced_service("default", {
        "metadata": {"name": name},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}],
                 "selector": {"app": name}}})
    core.patch_namespaced_service_status(name, "default", {
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
    client.DiscoveryV1Api(core.api_client).create_namespaced_endpoint_slice("default", {
        "metadata": {"name": f"{name}-slice",
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4", "ports": [{"port": 80, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.244.0.10"], "nodeName": "node-a",
                       "conditions": {"ready": True}}]})


def leftover(custom, plural: str, name: str, labels: dict, status: dict) -> None:
    """An object as an earlier speaker would have left it."""
    kind = {"servicebgpstatuses": "ServiceBGPStatus",
            "bgpsessionstates": "BGPSessionState"}[plural]
    custom.create_namespaced_custom_object(*GROUP, plural, {
        "apiVersion": "metallb.io/v1beta1", "kind": kind,
        "metadata": {"name": name, "labels": labels}})
    custom.patch_namespaced_custom_object_status(*GROUP, plural, name, {"status": status})


def by_service(custom) -> dict[tuple[str, str], dict]:
    """Objects that say something (a created object gets its status a moment later)."""
    items = custom.list_namespaced_custom_object(*GROUP, "servicebgpstatuses")["items"]
    return {(o["status"]["node"], f"{o['status']['serviceNamespace']}/"
             f"{o['status']['serviceName']}"): o for o in items if o.get("status")}


def sessions(custom) -> dict[str, dict]:
    items = custom.list_namespaced_custom_object(*GROUP, "bgpsessionstates")["items"]
    return {o["metadata"]["name"]: o for o in items if o.get("status")}


def node_labels(node: str, service: str) -> dict[str, str]:
    return {"metallb.io/node": node, "metallb.io/service-name": service,
            "metallb.io/service-namespace": "default"}


def test_speaker_status_objects_and_cleanup(cluster, start_speaker, apiserver, tmp_path):  # noqa: F811
    core, custom = cluster
    announced_service(core, "web", "198.51.100.5")
    leftover(custom, "servicebgpstatuses", "bgp-old", node_labels("node-a", "gone"),
             {"node": "node-a", "serviceName": "gone", "serviceNamespace": "default",
              "peers": ["192.0.2.1"]})
    leftover(custom, "servicebgpstatuses", "bgp-other", node_labels("node-b", "web"),
             {"node": "node-b", "serviceName": "web", "serviceNamespace": "default",
              "peers": ["192.0.2.1"]})
    leftover(custom, "bgpsessionstates", "node-a-192.0.2.99",
             {"metallb.io/node": "node-a"}, {"node": "node-a", "peer": "192.0.2.99"})
    daemon = start_speaker()

    expected = {("node-a", "default/web"), ("node-b", "default/web")}
    found = poll_until(lambda: (f := by_service(custom)) and set(f) == expected and f,
                       timeout=20, what="web's ServiceBGPStatus, the leftover removed")
    mine = found[("node-a", "default/web")]
    assert mine["status"] == {"node": "node-a", "serviceName": "web",
                              "serviceNamespace": "default", "peers": ["192.0.2.1"]}
    assert mine["metadata"]["labels"] == node_labels("node-a", "web")
    assert mine["metadata"]["name"].startswith("bgp-")

    session = poll_until(lambda: sessions(custom).get("node-a-192.0.2.1"), timeout=20,
                         what="the session's BGPSessionState")
    assert {k: session["status"][k] for k in ("node", "peer", "state", "lastError")} == {
        "node": "node-a", "peer": "192.0.2.1", "state": "up", "lastError": ""}
    poll_until(lambda: "node-a-192.0.2.99" not in sessions(custom), timeout=20,
               what="the leftover session removed")
    poll_until(lambda: session_acked(custom), timeout=20, what="prefixes acknowledged")

    state = poll_until(lambda: config_state(custom), timeout=20,
                       what="ConfigurationState speaker-node-a")
    assert state["metadata"]["labels"] == {"metallb.io/component-type": "speaker",
                                           "metallb.io/node-name": "node-a"}
    assert state["status"]["result"] == "Valid"

    require_program("kubectl", "kubernetes-client")
    config = apiserver.write_kubeconfig(tmp_path / "kubectl-config")
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"), HOME=str(tmp_path))
    table = subprocess.run(["kubectl", "--kubeconfig", str(config), "get",
                            "bgpsessionstates", "-n", NAMESPACE], env=env,
                           capture_output=True, text=True, timeout=60, check=True).stdout
    header, row = table.splitlines()
    assert header.split() == ["NAME", "NODE", "PEER", "STATE", "AGE"]
    assert row.split()[:4] == ["node-a-192.0.2.1", "node-a", "192.0.2.1", "up"]

    # The Service goes: its object on this node goes too.
    core.delete_namespaced_service("web", "default")
    poll_until(lambda: set(by_service(custom)) == {("node-b", "default/web")}, timeout=20,
               what="web's ServiceBGPStatus of node-a removed")

    # A bad config: Invalid, the last good one keeps running.
    core.replace_namespaced_config_map("metallb", NAMESPACE, {
        "metadata": {"name": "metallb"}, "data": {"config": "peers: [{peer-asn: x}]\n"}})
    poll_until(lambda: (config_state(custom).get("status") or {}).get("result") == "Invalid",
               timeout=20, what="ConfigurationState Invalid")

    daemon.stop()
    assert "node-a-192.0.2.1" not in sessions(custom)
    assert set(by_service(custom)) == {("node-b", "default/web")}


def test_states_the_full_queue_dropped_are_written_later(cluster, start_speaker,
                                                        monkeypatch):
    """More Services than the status queue holds (at 100,000 the queue's 50,000 bound
    is reached): every ServiceBGPStatus is still written, and every one deleted."""
    core, custom = cluster
    monkeypatch.setattr(speaker.daemon, "SpeakerStatus",
                        functools.partial(speaker.daemon.SpeakerStatus, max_pending=4))
    names = [f"svc{i}" for i in range(12)]
    for i, name in enumerate(names):
        announced_service(core, name, f"198.51.100.{10 + i}")
    daemon = start_speaker()
    expected = {("node-a", f"default/{name}") for name in names}
    poll_until(lambda: set(by_service(custom)) == expected, timeout=30,
               what="a ServiceBGPStatus for each of the 12 Services")
    assert daemon.status.queue.dropped > 0 and daemon.status.queue.refills > 0
    for name in names:
        core.delete_namespaced_service(name, "default")
    poll_until(lambda: not by_service(custom), timeout=30,
               what="every ServiceBGPStatus deleted with its Service")


def test_session_deletions_the_full_queue_dropped_are_asked_for_again(cluster, kube_client):  # noqa: F811
    """Peers dropped from the config while the status queue is full: each
    BGPSessionState is still deleted (the queue asks for every unwanted one again)."""
    _, custom = cluster
    status = SpeakerStatus(kube_client, "metallb-system", "node-a", max_pending=2)
    peers = [f"192.0.2.{i}" for i in range(1, 6)]
    try:
        status.sessions({p: SessionState(p, "up", True, None, 0.0, 0, 0, 0) for p in peers})
        poll_until(lambda: len(sessions(custom)) == len(peers), timeout=30,
                   what="a BGPSessionState per peer")
        dropped = status.queue.dropped
        status.sessions({})
        poll_until(lambda: not sessions(custom), timeout=30,
                   what="every BGPSessionState deleted")
        assert status.queue.dropped > dropped  # the deletions did not all fit
    finally:
        status.stop()


def session_acked(custom) -> bool:
    found = sessions(custom).get("node-a-192.0.2.1")
    return bool(found) and found["status"].get("prefixesAcknowledged") == 1


def config_state(custom) -> dict:
    try:
        return custom.get_namespaced_custom_object(*GROUP, "configurationstates",
                                                   "speaker-node-a")
    except client.ApiException as err:
        if err.status == 404:
            return {}
        raise


def test_without_the_status_crds_the_speaker_says_so_once_and_announces(
        kube_client, monkeypatch, start_speaker, caplog):  # noqa: F811
    """An older deployment without the status kinds: one log line per kind, no retries,
    and the speaker works as before."""
    monkeypatch.setattr(speaker.daemon, "make_backend", lambda *a, **k: UpBackend())
    core = node_and_config(kube_client)
    announced_service(core, "web", "198.51.100.5")
    caplog.set_level("INFO", logger="metallb.kube.status")
    daemon = start_speaker()
    poll_until(lambda: daemon._announced, timeout=20, what="web announced")
    kinds = {"servicebgpstatuses", "bgpsessionstates", "configurationstates"}
    poll_until(lambda: daemon.status._objects.missing == kinds, timeout=20,
               what="every status kind found missing")
    poll_until(daemon.status.queue.idle, timeout=20, what="the status queue idle")
    missing = [r.getMessage() for r in caplog.records if "status_kind_missing" in r.getMessage()]
    assert len(missing) == 3, missing
    assert daemon.status.queue.failures == 0
