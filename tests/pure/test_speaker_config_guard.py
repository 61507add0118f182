"""Table tests of the speaker's config guard: the configs the controller refuses
(rules A15, D2) are the ones the speaker refuses, with the same services named."""

from __future__ import annotations

import pytest

from metallb.config.parse import parse_config_text
from speaker.config_guard import blocked_services

PEERS = "peers: [{peer-address: 192.0.2.1, peer-asn: 64512, my-asn: 64513}]\n"
WEB = "- {name: web, protocol: bgp, addresses: [198.51.100.0/24]}\n"


def config(*pools: str) -> str:
    return PEERS + "address-pools:\n" + "".join(pools)


TWO_POOLS = config(WEB, "- {name: db, protocol: bgp, addresses: [203.0.113.0/24]}\n")
ONLY_WEB = config(WEB)
RENAMED = config(WEB, "- {name: database, protocol: bgp, addresses: [203.0.113.0/24]}\n")
MOVED = config("- {name: web, protocol: bgp, addresses: [198.51.100.0/24, 203.0.113.0/24]}\n")


def svc(name, ip, annotations=None, lb_class=None, type_="LoadBalancer", created="2026-01-01"):
    spec = {"type": type_}
    if lb_class:
        spec["loadBalancerClass"] = lb_class
    return {"metadata": {"name": name, "namespace": "default", "creationTimestamp": created,
                         "annotations": annotations or {}},
            "spec": spec, "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}


DB = svc("db", "203.0.113.5")
WEB_SVC = svc("web", "198.51.100.5")


# rules A15 and D2: the speaker refuses what the controller refuses
@pytest.mark.parametrize(("new", "services", "blocked"), [
    (ONLY_WEB, [WEB_SVC, DB], ["default/db"]),  # a pool still in use dropped
    (ONLY_WEB, [WEB_SVC], []),  # a pool nobody uses dropped
    (MOVED, [WEB_SVC, DB], []),  # the address is in another pool now: still held
    (RENAMED, [WEB_SVC, svc("db", "203.0.113.5", {"metallb.universe.tf/address-pool": "db"})],
     ["default/db"]),  # renamed away from the service's annotation
    (RENAMED, [WEB_SVC, DB], []),  # renamed, no annotation: the address stays in a pool
    (ONLY_WEB, [svc("other", "203.0.113.6", lb_class="other.example/lb")], []),  # not ours
    (ONLY_WEB, [svc("np", "203.0.113.7", type_="NodePort")], []),  # not a LoadBalancer
    (ONLY_WEB, [svc("odd", ["203.0.113.8"])], []),  # malformed status: never raises
    (ONLY_WEB, [svc("b", "203.0.113.9"), DB], ["default/b", "default/db"]),  # every one named
])
def test_refused_for_the_services_holding_addresses(new, services, blocked):
    current = parse_config_text(TWO_POOLS)
    found = blocked_services(current, parse_config_text(new), services)
    assert [b.key for b in found] == blocked
    assert all(b.reason and b.ips for b in found)


def test_the_reason_is_the_controllers():
    [blocked] = blocked_services(parse_config_text(TWO_POOLS), parse_config_text(ONLY_WEB),
                                 [DB])
    assert blocked.ips == ("203.0.113.5",)
    assert "in no pool" in blocked.reason
