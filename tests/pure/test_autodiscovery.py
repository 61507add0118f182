"""Peers autodiscovered from node annotations, Packet style (examples/config.yaml)."""

from __future__ import annotations

from pathlib import Path

from metallb.commands.input_files import read_config
from speaker.node import NodeInfo
from speaker.planner import node_peers

CONFIG = read_config(str(Path(__file__).parents[2] / "examples" / "config.yaml"))
EQX = "metal.equinix.com/"


def node(annotations: dict[str, str], name: str = "n1") -> NodeInfo:
    return NodeInfo(name, labels={}, annotations=annotations)


# rules C18 and N4
def test_comma_separated_peer_ip_gives_one_peer_each():
    peers, issues = node_peers(CONFIG, node({
        EQX + "node-asn": "65000", EQX + "peer-asn": "65530",
        EQX + "peer-ip": "192.0.2.1, 192.0.2.2", EQX + "src-ip": "192.0.2.11",
    }))
    assert issues == []
    assert sorted(peers) == ["192.0.2.1", "192.0.2.2"]
    peer = peers["192.0.2.2"]
    assert (peer.my_asn, peer.peer_asn, peer.source_address, peer.hold_time) == (
        65000, 65530, "192.0.2.11", 90.0)


# rules C18 and D5
def test_numbered_bgp_peers_with_password():
    peers, issues = node_peers(CONFIG, node({
        EQX + "bgp-peers-0-node-asn": "65000", EQX + "bgp-peers-0-peer-asn": "65530",
        EQX + "bgp-peers-0-peer-ip": "192.0.2.1", EQX + "bgp-peers-0-src-ip": "192.0.2.11",
        EQX + "bgp-peers-0-bgp-pass": "s3cret",
        EQX + "bgp-peers-1-node-asn": "65000", EQX + "bgp-peers-1-peer-asn": "65530",
        EQX + "bgp-peers-1-peer-ip": "192.0.2.2", EQX + "bgp-peers-1-src-ip": "192.0.2.11",
        EQX + "bgp-peers-1-bgp-pass": "s3cret",
    }))
    assert issues == []
    assert sorted(peers) == ["192.0.2.1", "192.0.2.2"]
    assert peers["192.0.2.1"].password == "s3cret"


# rule C17
def test_node_without_annotations_has_no_peer_and_no_issue():
    assert node_peers(CONFIG, node({})) == ({}, [])


# rule C17
def test_invalid_value_names_node_and_annotation_without_password():
    peers, issues = node_peers(CONFIG, node({
        EQX + "bgp-peers-0-node-asn": "not-a-number", EQX + "bgp-peers-0-peer-asn": "65530",
        EQX + "bgp-peers-0-peer-ip": "192.0.2.1", EQX + "bgp-peers-0-src-ip": "192.0.2.11",
        EQX + "bgp-peers-0-bgp-pass": "s3cret",
    }, name="worker-7"))
    assert peers == {}
    text = " ".join(str(i) for i in issues)
    assert "worker-7" in text and EQX + "bgp-peers-0-node-asn" in text
    assert "not-a-number" in text and "s3cret" not in text


# rule C17
def test_missing_annotation_is_reported():
    peers, issues = node_peers(CONFIG, node({
        EQX + "node-asn": "65000", EQX + "peer-ip": "192.0.2.1",
    }, name="worker-3"))
    assert peers == {}
    text = " ".join(str(i) for i in issues)
    assert "worker-3" in text and EQX + "peer-asn" in text
