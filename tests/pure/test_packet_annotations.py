"""The component's default autodiscovery reads what the Equinix Metal (Packet) cloud
provider writes on Nodes: the numbered `bgp-peers-{N}-*` keys and the older single keys
(`peer-ip` a comma list), with the BGP password base64-encoded (rule D5)."""

from __future__ import annotations

import yaml

from lab.packet import PROJECT_PASSWORD, PROVIDER_ASN, ROUTER_PEER_IPS, bgp_annotations
from metallb.component.settings import PACKET_AUTODISCOVERY
from metallb.config import parse_config_text
from speaker.autodiscovery import discover_peers
from speaker.node import NodeInfo

RULES = parse_config_text(yaml.safe_dump({"peer-autodiscovery": PACKET_AUTODISCOVERY})
                          ).peer_autodiscovery


def node(annotations: dict[str, str]) -> NodeInfo:
    return NodeInfo(name="node1", labels={}, annotations=annotations)


def test_numbered_annotations_give_one_peer_per_router_with_the_decoded_password():
    peers, issues = discover_peers(RULES, node(bgp_annotations("192.0.2.12")))
    assert issues == []
    assert [(p.peer_address, p.peer_asn, p.my_asn, p.source_address, p.password)
            for p in peers] == [(ip, PROVIDER_ASN, 65000, "192.0.2.12", PROJECT_PASSWORD)
                                for ip in ROUTER_PEER_IPS]


def test_older_single_keys_with_a_peer_ip_list_give_the_same_peers():
    numbered, _ = discover_peers(RULES, node(bgp_annotations("192.0.2.12")))
    older, issues = discover_peers(RULES, node(bgp_annotations("192.0.2.12",
                                                               numbered=False)))
    assert issues == [] and older == numbered


def test_a_password_that_is_not_base64_names_the_node_and_the_annotation_not_the_value():
    annotations = bgp_annotations("192.0.2.12")
    annotations["metal.equinix.com/bgp-peers-1-bgp-pass"] = "not base64!"
    peers, issues = discover_peers(RULES, node(annotations))
    assert [p.peer_address for p in peers] == [ROUTER_PEER_IPS[0]]
    (issue,) = issues
    assert "node node1" in issue.path
    assert "metal.equinix.com/bgp-peers-1-bgp-pass" in issue.path
    assert "base64" in issue.message and "not base64!" not in str(issue)


def test_a_project_without_password_has_no_bgp_pass_and_its_peers_no_password():
    annotations = {k: v for k, v in bgp_annotations("192.0.2.12").items()
                   if not k.endswith("bgp-pass")}
    peers, issues = discover_peers(RULES, node(annotations))
    assert issues == []
    assert [(p.peer_address, p.password) for p in peers] == [(ip, None)
                                                             for ip in ROUTER_PEER_IPS]
