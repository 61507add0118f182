"""The speaker daemon against a real FRR router (network namespaces), driven only by
Kubernetes objects in the API emulator. Assertions read FRR's BGP table and the router
namespace's kernel routes (ECMP next hops)."""

from __future__ import annotations

import copy
import os
import signal
import urllib.request
from collections.abc import Iterator

import pytest

from lab.apiserver import validation
from lab.harness.speaker_cluster import BASE_CONFIG, SpeakerCluster, speaker_cluster
from metallb.wait import poll_until
from speaker.planner import EXCLUDE_LABEL

TIMEOUT = 20.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[SpeakerCluster]:
    with speaker_cluster(3) as c:
        poll_until(lambda: len(c.lab.router.established()) == 6, TIMEOUT * 2,
                   what="3 nodes x (IPv4 + IPv6) sessions Established")
        yield c


def hops(cluster: SpeakerCluster, prefix: str, expected: list[str]) -> None:
    """Wait until the router's kernel has exactly `expected` next hops for `prefix`."""
    want = sorted(expected)
    poll_until(lambda: sorted(cluster.lab.nexthops(prefix)) == want, TIMEOUT,
               what=f"{prefix} next hops == {want}")


# rules N1 and N3
def test_cluster_policy_ecmp_over_every_node_then_withdrawn(cluster):
    nodes = cluster.lab.nodes
    cluster.service("web", ["198.51.100.10"])
    cluster.endpoints("web", [nodes[0]])
    hops(cluster, "198.51.100.10/32", cluster.node_v4)
    cluster.endpoints("web", [nodes[0]], ready=False)  # no ready endpoint: withdrawn
    hops(cluster, "198.51.100.10/32", [])
    cluster.endpoints("web", [nodes[1]])
    hops(cluster, "198.51.100.10/32", cluster.node_v4)
    cluster.delete_service("web")
    hops(cluster, "198.51.100.10/32", [])


# rule N3
def test_local_policy_follows_the_endpoint(cluster):
    nodes = cluster.lab.nodes
    cluster.service("local", ["198.51.100.20"], etp="Local")
    cluster.endpoints("local", [nodes[1]])
    hops(cluster, "198.51.100.20/32", [nodes[1].ipv4])
    cluster.endpoints("local", [nodes[2], nodes[0]])
    hops(cluster, "198.51.100.20/32", [nodes[0].ipv4, nodes[2].ipv4])
    cluster.delete_service("local")
    hops(cluster, "198.51.100.20/32", [])


# rule N2
def test_exclude_label_and_network_unavailable_remove_the_node(cluster):
    nodes = cluster.lab.nodes
    cluster.service("edge", ["198.51.100.30"])
    cluster.endpoints("edge", list(nodes))
    hops(cluster, "198.51.100.30/32", cluster.node_v4)
    others = [n.ipv4 for n in nodes[1:]]
    cluster.patch_node(nodes[0], {"metadata": {"labels": {EXCLUDE_LABEL: ""}}})
    hops(cluster, "198.51.100.30/32", others)
    cluster.patch_node(nodes[0], {"metadata": {"labels": {EXCLUDE_LABEL: None}}})
    hops(cluster, "198.51.100.30/32", cluster.node_v4)
    unavailable = {"status": {"conditions": [
        {"type": "NetworkUnavailable", "status": "True", "reason": "Test"}]}}
    cluster.patch_node(nodes[0], unavailable, status=True)
    hops(cluster, "198.51.100.30/32", others)
    available = {"status": {"conditions": [
        {"type": "NetworkUnavailable", "status": "False", "reason": "Test"}]}}
    cluster.patch_node(nodes[0], available, status=True)
    hops(cluster, "198.51.100.30/32", cluster.node_v4)
    cluster.delete_service("edge")


# rules N5 and N7
def test_aggregation_communities_and_ipv6(cluster):
    nodes = cluster.lab.nodes
    cluster.service("agg", ["203.0.113.9"])
    cluster.endpoints("agg", [nodes[0]])
    hops(cluster, "203.0.113.0/24", cluster.node_v4)
    hops(cluster, "203.0.113.9/32", cluster.node_v4)
    router = cluster.lab.router
    paths = router.routes("203.0.113.0/24")
    assert paths and all("64512:7" in p.get("community", {}).get("string", "") for p in paths)
    paths32 = router.routes("203.0.113.9/32")
    assert paths32 and all("64512:8" in p.get("community", {}).get("string", "")
                           for p in paths32)

    cluster.service("six", ["2001:db8:1::9"])
    cluster.endpoints("six", [nodes[0]])
    v6_hops = poll_until(lambda: len(router.kernel_nexthops("2001:db8:1::9/128")) == 3
                         and router.kernel_nexthops("2001:db8:1::9/128"), TIMEOUT,
                         what="IPv6 /128 over three IPv6 sessions")
    assert sorted(v6_hops) == sorted(n.ipv6 for n in nodes)
    cluster.delete_service("agg")
    cluster.delete_service("six")
    hops(cluster, "203.0.113.0/24", [])


# rule N12
def test_metrics_match_what_frr_sees(cluster):
    nodes = cluster.lab.nodes
    cluster.service("metrics", ["198.51.100.40"])
    cluster.endpoints("metrics", [nodes[0]])
    hops(cluster, "198.51.100.40/32", cluster.node_v4)
    speaker = cluster.speakers["node0"]
    url = f"http://{speaker.metrics_server.address}/metrics"

    def scrape() -> str:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()

    received = cluster.lab.router.bgp_summary()[nodes[0].ipv4]["pfxRcd"]

    def consistent() -> str | None:
        text = scrape()
        wanted = [
            'metallb_bgp_session_up{peer="192.0.2.1"} 1.0',
            f'metallb_bgp_announced_prefixes_total{{peer="192.0.2.1"}} {float(received)}',
            'metallb_speaker_announced{ip="198.51.100.40",node="node0",protocol="bgp",'
            'service="default/metrics"} 1.0',
        ]
        return text if all(w in text for w in wanted) else None

    poll_until(consistent, TIMEOUT, what="speaker metrics equal to FRR's view")
    cluster.delete_service("metrics")
    poll_until(lambda: 'service="default/metrics"' not in scrape(), TIMEOUT,
               what="announced series removed after the service is gone")


# rules C4 and N10
def test_bad_config_keeps_sessions_and_routes(cluster, caplog):
    nodes = cluster.lab.nodes
    cluster.service("steady", ["198.51.100.50"])
    cluster.endpoints("steady", [nodes[0]])
    hops(cluster, "198.51.100.50/32", cluster.node_v4)
    cluster.set_config("address-pools: [{name: broken}]\n")
    poll_until(lambda: cluster.speakers and all(s.config_source.stale
                                                for s in cluster.speakers.values()),
               TIMEOUT, what="every speaker marks its config stale")
    assert cluster.lab.nexthops("198.51.100.50/32") == cluster.node_v4
    # Other changes while stale do not repeat the error: one line per speaker.
    cluster.endpoints("steady", [nodes[1]])
    cluster.service("while-stale", ["198.51.100.51"])
    cluster.endpoints("while-stale", [nodes[1]])
    hops(cluster, "198.51.100.51/32", cluster.node_v4)
    assert caplog.text.count("event=config_invalid") == len(cluster.speakers)
    cluster.delete_service("while-stale")
    assert len(cluster.lab.router.established()) == 6
    cluster.set_config(BASE_CONFIG)
    poll_until(lambda: not any(s.config_source.stale for s in cluster.speakers.values()),
               TIMEOUT, what="stale cleared by a good config")
    cluster.delete_service("steady")
    hops(cluster, "198.51.100.50/32", [])


# rule N9
def test_exabgp_killed_is_restarted_and_routes_return(cluster):
    nodes = cluster.lab.nodes
    cluster.service("phoenix", ["198.51.100.60"])
    cluster.endpoints("phoenix", [nodes[0]])
    hops(cluster, "198.51.100.60/32", cluster.node_v4)
    driver = cluster.speakers["node0"].driver
    old_pid = driver.pid
    os.kill(old_pid, signal.SIGKILL)
    hops(cluster, "198.51.100.60/32", [n.ipv4 for n in nodes[1:]])
    poll_until(lambda: driver.pid not in (None, old_pid), TIMEOUT, what="ExaBGP restarted")
    hops(cluster, "198.51.100.60/32", cluster.node_v4)
    cluster.delete_service("phoenix")
    hops(cluster, "198.51.100.60/32", [])


# rule N9
def test_router_restart_sessions_and_routes_return(cluster):
    nodes = cluster.lab.nodes
    cluster.service("survivor", ["198.51.100.70"])
    cluster.endpoints("survivor", [nodes[2]])
    hops(cluster, "198.51.100.70/32", cluster.node_v4)
    cluster.lab.router.restart()
    poll_until(lambda: len(cluster.lab.router.established()) == 6, TIMEOUT * 2,
               what="every session back after FRR restarted")
    hops(cluster, "198.51.100.70/32", cluster.node_v4)
    cluster.delete_service("survivor")
    hops(cluster, "198.51.100.70/32", [])


# rule N10: one Service with a malformed status never stops the speakers' syncs; the
# other services are announced. The emulator validates the status as the API server does,
# so the check is switched off for this one write (a webhook or an older server, say).
def test_malformed_service_status_does_not_stop_other_services(cluster, monkeypatch):
    nodes = cluster.lab.nodes
    cluster.service("malformed", ["198.51.100.80"])
    with monkeypatch.context() as patched:
        patched.setattr(validation, "prepare_service_status", lambda status: [])
        cluster.core.patch_namespaced_service_status("malformed", "default", {"status": {
            "loadBalancer": {"ingress": [{"ip": ["198.51.100.80"]}, {"ip": {"a": 1}}]}}},
            _preload_content=False)  # the client's model would refuse the answer
    cluster.endpoints("malformed", [nodes[0]])
    poll_until(lambda: all(s.services.get("default/malformed") is not None
                           and isinstance(s.services.get("default/malformed")["status"]
                                          ["loadBalancer"]["ingress"][0]["ip"], list)
                           for s in cluster.speakers.values()),
               TIMEOUT, what="every speaker caches the malformed status")
    cluster.service("healthy", ["198.51.100.81"])
    cluster.endpoints("healthy", [nodes[1]])
    hops(cluster, "198.51.100.81/32", cluster.node_v4)
    assert cluster.lab.nexthops("198.51.100.80/32") == []
    assert all(s.k8s_metrics.update_errors._value.get() == 0
               for s in cluster.speakers.values())
    cluster.core.delete_namespaced_service("malformed", "default", _preload_content=False)
    cluster.delete_service("malformed")  # its EndpointSlice
    cluster.delete_service("healthy")
    hops(cluster, "198.51.100.81/32", [])


# rules A15, D2 and C4: a config the controller refuses (it drops a pool a service still
# holds an address of) is refused by the speaker too: routes stay, stale is 1, one line.
def test_config_dropping_a_pool_in_use_is_refused_and_routes_stay(cluster, caplog):
    nodes = cluster.lab.nodes
    cluster.service("held", ["198.51.100.90"])
    cluster.endpoints("held", [nodes[0]])
    hops(cluster, "198.51.100.90/32", cluster.node_v4)
    without_default = copy.deepcopy(BASE_CONFIG)
    without_default["address-pools"] = [p for p in without_default["address-pools"]
                                        if p["name"] != "default"]
    cluster.set_config(without_default)
    # The gauge is set last (after the flag and the log line): poll for it.
    poll_until(lambda: all(s.k8s_metrics.config_stale._value.get() == 1
                           for s in cluster.speakers.values()),
               TIMEOUT, what="every speaker refuses the config (stale gauge 1)")
    assert all(s.config_source.stale for s in cluster.speakers.values())
    # Later changes neither apply it nor repeat the line.
    cluster.service("later", ["198.51.100.91"])
    cluster.endpoints("later", [nodes[1]])
    hops(cluster, "198.51.100.91/32", cluster.node_v4)
    assert cluster.lab.nexthops("198.51.100.90/32") == cluster.node_v4
    refused = [r.getMessage() for r in caplog.records if "event=config_refused" in
               r.getMessage()]
    assert len(refused) == len(cluster.speakers)
    assert all("default/held" in line and "default/later" not in line for line in refused)

    # A blocking service goes: the refused config is looked at again (no config change),
    # still refused while another service holds an address of the dropped pool ...
    def refusals() -> list[str]:
        return [r.getMessage() for r in caplog.records
                if "event=config_refused" in r.getMessage()]

    cluster.delete_service("held")
    hops(cluster, "198.51.100.90/32", [])
    poll_until(lambda: len(refusals()) == 2 * len(cluster.speakers), TIMEOUT,
               what="every speaker refuses the config again when held goes")
    assert all("default/later" in line and "default/held" not in line
               for line in refusals()[len(cluster.speakers):])
    assert cluster.lab.nexthops("198.51.100.91/32") == cluster.node_v4
    # ... and applied when the last one goes.
    cluster.delete_service("later")
    poll_until(lambda: not any(s.config_source.stale for s in cluster.speakers.values()),
               TIMEOUT, what="the refused config applied once nothing blocks it")
    assert all([p.name for p in s.config_source.current.pools] == ["agg", "v6"]
               for s in cluster.speakers.values())
    hops(cluster, "198.51.100.91/32", [])
    cluster.set_config(BASE_CONFIG)
    poll_until(lambda: all("default" in [p.name for p in s.config_source.current.pools]
                           for s in cluster.speakers.values()),
               TIMEOUT, what="the base config back")
