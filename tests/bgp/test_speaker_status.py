"""The speaker's status objects with real ExaBGP sessions to FRR: BGPSessionState says
"up" for each established session, ServiceBGPStatus exists for each node announcing a
Service and names the peers; what a speaker left behind without cleaning up (as after
kill -9) is removed by the next speaker of that node; a removed peer's BGPSessionState
goes with it."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import kubernetes
import pytest

from lab.harness.speaker_cluster import BASE_CONFIG, NAMESPACE, SpeakerCluster, speaker_cluster
from metallb.component.render import crd_objects
from metallb.wait import poll_until

TIMEOUT = 30.0
GROUP = ("metallb.io", "v1beta1", NAMESPACE)
PEER_V4, PEER_V6 = "192.0.2.1", "2001:db8:ffff::1"


@pytest.fixture(scope="module")
def cluster() -> Iterator[SpeakerCluster]:
    with speaker_cluster(2, start_speakers=False) as c:
        ext = kubernetes.client.ApiextensionsV1Api(c.api)
        for crd in crd_objects():
            ext.create_custom_resource_definition(crd)
        for node in c.lab.nodes:
            c.start_speaker(node)
        yield c


def _items(cluster: SpeakerCluster, plural: str) -> list[dict]:
    custom = kubernetes.client.CustomObjectsApi(cluster.api)
    return custom.list_namespaced_custom_object(*GROUP, plural)["items"]


def service_status(cluster: SpeakerCluster) -> dict[tuple[str, str], list[str]]:
    return {(o["status"]["node"], o["status"]["serviceName"]): o["status"].get("peers", [])
            for o in _items(cluster, "servicebgpstatuses") if o.get("status")}


def session_states(cluster: SpeakerCluster) -> dict[tuple[str, str], str]:
    return {(o["status"]["node"], o["status"]["peer"]): o["status"].get("state")
            for o in _items(cluster, "bgpsessionstates") if o.get("status")}


def test_sessions_and_announcing_nodes_are_in_the_api(cluster):
    everyone = {(f"node{i}", peer): "up" for i in (0, 1) for peer in (PEER_V4, PEER_V6)}
    poll_until(lambda: session_states(cluster) == everyone, TIMEOUT,
               what="four BGPSessionStates up")
    cluster.service("web", ["198.51.100.40"], etp="Local")
    cluster.endpoints("web", list(cluster.lab.nodes))
    try:
        poll_until(lambda: len(cluster.lab.nexthops("198.51.100.40/32")) == 2, TIMEOUT,
                   what="both nodes announce web")
        found = poll_until(lambda: (s := service_status(cluster)) and len(s) == 2 and s,
                           TIMEOUT, what="a ServiceBGPStatus per node")
        assert set(found) == {("node0", "web"), ("node1", "web")}
        assert all(PEER_V4 in peers for peers in found.values()), found
        # Local policy, endpoints only on node1: node0 stops announcing, its object goes.
        cluster.endpoints("web", [cluster.lab.nodes[1]])
        poll_until(lambda: set(service_status(cluster)) == {("node1", "web")}, TIMEOUT,
                   what="node0's ServiceBGPStatus removed")
    finally:
        cluster.delete_service("web")
    poll_until(lambda: service_status(cluster) == {}, TIMEOUT,
               what="no ServiceBGPStatus once the Service is gone")


def test_what_a_speaker_left_behind_is_removed_by_the_next_one(cluster):
    node0 = cluster.lab.nodes[0]
    cluster.service("left", ["198.51.100.41"])
    cluster.endpoints("left", [node0])
    try:
        poll_until(lambda: ("node0", "left") in service_status(cluster), TIMEOUT,
                   what="node0 announces left")
        daemon = cluster.speakers["node0"]
        assert daemon.status is not None
        daemon.status.queue.stop(timeout=0.0)
        daemon.status = None  # it ends without a word to the API, as after kill -9
        cluster.stop_speaker(node0)
        assert ("node0", "left") in service_status(cluster)
        cluster.delete_service("left")  # gone while node0 had no speaker
        cluster.start_speaker(node0)
        poll_until(lambda: ("node0", "left") not in service_status(cluster), TIMEOUT,
                   what="the leftover ServiceBGPStatus removed by the new speaker")
        poll_until(lambda: session_states(cluster).get(("node0", PEER_V4)) == "up", TIMEOUT,
                   what="node0's session up again")
    finally:
        cluster.delete_service("left")


def test_a_removed_peer_takes_its_session_state_along(cluster):
    config = copy.deepcopy(BASE_CONFIG)
    config["peers"] = [p for p in config["peers"] if p["peer-address"] == PEER_V4]
    cluster.set_config(config)
    try:
        poll_until(lambda: set(session_states(cluster)) == {("node0", PEER_V4),
                                                           ("node1", PEER_V4)}, TIMEOUT,
                   what="the IPv6 peer's BGPSessionStates removed")
    finally:
        cluster.set_config(BASE_CONFIG)
