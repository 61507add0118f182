"""peer-autodiscovery parsing, and peer_from_fields as the speaker uses it per node."""

from __future__ import annotations

import textwrap

import pytest

from metallb.config import ConfigError, parse_config_text
from metallb.config.autodiscovery import node_peer_fields
from metallb.config.model import AutodiscoveryMapping, NodeSelector, Peer, PeerAutodiscovery
from metallb.config.parse import peer_from_fields, peers_from_fields

PACKET = {
    "my-asn": "metal.equinix.com/node-asn",
    "peer-asn": "metal.equinix.com/peer-asn",
    "peer-address": "metal.equinix.com/peer-ip",
    "source-address": "metal.equinix.com/src-ip",
}


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config_text(textwrap.dedent(text))
    return [str(i) for i in info.value.issues]


# rule C15
def test_packet_style_autodiscovery():
    config = parse_config_text(
        textwrap.dedent("""
        peer-autodiscovery:
          from-annotations:
          - my-asn: metal.equinix.com/node-asn
            peer-asn: metal.equinix.com/peer-asn
            peer-address: metal.equinix.com/peer-ip
            source-address: metal.equinix.com/src-ip
          from-labels:
          - {peer-address: example.com/router, password: example.com/pw}
          defaults: {my-asn: 65000, peer-asn: 65530, hold-time: 90s, peer-port: 179}
          node-selectors:
          - match-labels: {bgp: "on"}
        """)
    )
    assert config.peer_autodiscovery == PeerAutodiscovery(
        from_annotations=(AutodiscoveryMapping(fields=tuple(PACKET.items())),),
        from_labels=(
            AutodiscoveryMapping(
                fields=(("peer-address", "example.com/router"), ("password", "example.com/pw"))
            ),
        ),
        defaults=(
            ("my-asn", "65000"),
            ("peer-asn", "65530"),
            ("hold-time", "90s"),
            ("peer-port", "179"),
        ),
        node_selectors=(NodeSelector(match_labels=(("bgp", "on"),)),),
    )


# rule C15
def test_single_mapping_form_is_accepted():
    config = parse_config_text(
        "peer-autodiscovery:\n  from-annotations: {my-asn: a/b, peer-asn: a/c, peer-address: a/d}\n"
    )
    assert len(config.peer_autodiscovery.from_annotations) == 1


# rule C16
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{}", "peer-autodiscovery: needs from-annotations or from-labels"),
        (
            "{from-annotations: [{my-asn: a, peer-asn: b}]}",
            "peer-autodiscovery.from-annotations[0].peer-address: required peer field is neither "
            "mapped to an annotation key nor in defaults",
        ),
        (
            "{from-labels: [{my-asn: a, peer-asn: b, peer-address: 'not a key!'}]}",
            "peer-autodiscovery.from-labels[0].peer-address: is not a valid label key",
        ),
        (
            "{from-annotations: [{my-asn: a, peer-asn: b, peer-address: 5}]}",
            "peer-autodiscovery.from-annotations[0].peer-address: annotation key must be a string",
        ),
        (
            "{from-annotations: [{my-asn: a, peer-asn: b, peer-address: c, keepalive-time: d}]}",
            "peer-autodiscovery.from-annotations[0].keepalive-time: unknown key",
        ),
        (
            "{from-annotations: [{peer-address: c}], defaults: {my-asn: '65000', peer-asn: 1}}",
            "peer-autodiscovery.defaults.my-asn: must be an integer, not string "
            "(remove the quotes)",
        ),
        (
            "{from-annotations: [{peer-address: c}], defaults: {my-asn: 1, peer-asn: 1, "
            "hold-time: 1s}}",
            "peer-autodiscovery.defaults.hold-time: must be 0",
        ),
        (
            "{from-annotations: [{my-asn: a, peer-asn: b, peer-address: c}], defaults: {x: 1}}",
            "peer-autodiscovery.defaults.x: unknown key",
        ),
        ("{from-annotations: [x]}", "peer-autodiscovery.from-annotations[0]: must be a mapping"),
        (
            "{from-annotations: [{my-asn: a, peer-asn: b, peer-address: c}], node-selectors: [{"
            "match-expressions: [{key: k, operator: In}]}]}",
            "peer-autodiscovery.node-selectors[0].match-expressions[0].values: operator In needs",
        ),
        ("[]", "peer-autodiscovery: must be a mapping, not list"),
    ],
)
def test_autodiscovery_errors(body, expected):
    lines = issues_of(f"peer-autodiscovery: {body}\n")
    assert any(line.startswith(expected) for line in lines), lines


# rules C3 and C16
def test_password_default_is_never_shown():
    lines = issues_of(
        "peer-autodiscovery: {from-annotations: [{peer-address: a}], "
        "defaults: {my-asn: 1, peer-asn: 1, password: 424242}}\n"
    )
    assert lines == ["peer-autodiscovery.defaults.password: must be a string, not integer"]


NODE_VALUES = {
    "my-asn": "65000",
    "peer-asn": "65530",
    "peer-address": "10.99.0.1",
    "source-address": "10.99.0.2",
    "hold-time": "90s",
    "peer-port": "179",
    "router-id": "10.99.0.2",
    "password": "s3cret",
}


# rule C17
def test_peer_from_fields_accepts_annotation_strings():
    peer, issues = peer_from_fields(NODE_VALUES, "node worker1")
    assert issues == []
    assert peer == Peer(
        peer_address="10.99.0.1",
        peer_asn=65530,
        my_asn=65000,
        source_address="10.99.0.2",
        router_id="10.99.0.2",
        password="s3cret",
    )


# rule C17
def test_peer_from_fields_bare_seconds_in_text():
    peer, _ = peer_from_fields({**NODE_VALUES, "hold-time": "30"}, "n")
    assert peer is not None and peer.hold_time == 30


# rule C17
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("my-asn", "abc", "must be an integer, not string"),
        ("peer-asn", "0", "must be between 1 and 4294967295"),
        ("peer-address", "10.99.0.999", "is not an IP address"),
        ("peer-port", "99999", "must be between 1 and 65535"),
        ("hold-time", "1", "must be 0 (no keepalives) or at least 3s"),
        ("router-id", "2001:db8::1", "must be an IPv4 address"),
        ("source-address", "", "is not an IP address"),
        ("password", "", "must not be empty"),
    ],
)
def test_peer_from_fields_rejects_bad_values_with_the_same_rules(field, value, message):
    peer, issues = peer_from_fields({**NODE_VALUES, field: value}, "node/worker1")
    assert peer is None
    (issue,) = issues
    assert issue.path == f"node/worker1.{field}"
    assert message in issue.message


def test_peer_from_fields_missing_and_unknown():
    peer, issues = peer_from_fields({"peer-asn": "1", "bogus": "x"}, "n")
    assert peer is None
    assert sorted(i.path for i in issues) == ["n.bogus", "n.my-asn", "n.peer-address"]


def test_peer_from_fields_never_raises_on_garbage():
    for garbage in (None, 5, ["a"], {"my-asn": None, "peer-asn": [], "peer-address": {}}):
        peer, issues = peer_from_fields(garbage, "n")  # type: ignore[arg-type]
        assert peer is None and issues


# rule C18
def test_peers_from_fields_splits_comma_separated_peer_ips():
    peers, issues = peers_from_fields({**NODE_VALUES, "peer-address": "10.99.0.1, 10.99.0.3"}, "n")
    assert issues == []
    assert [p.peer_address for p in peers] == ["10.99.0.1", "10.99.0.3"]
    bad, issues = peers_from_fields({**NODE_VALUES, "peer-address": "10.99.0.1,nope"}, "n")
    assert bad == () and [i.value for i in issues] == ["nope"]


# rule C17
def test_node_peer_fields_overlays_node_values_on_defaults():
    mapping = AutodiscoveryMapping(fields=tuple(PACKET.items()))
    fields, missing = node_peer_fields(
        mapping,
        (("peer-asn", "65530"), ("hold-time", "90s")),
        {
            "metal.equinix.com/node-asn": "65000",
            "metal.equinix.com/peer-ip": "10.99.0.1",
            "unrelated": "x",
        },
    )
    assert fields == {
        "my-asn": "65000",
        "peer-asn": "65530",
        "peer-address": "10.99.0.1",
        "hold-time": "90s",
    }
    assert missing == ["metal.equinix.com/src-ip"]
    peer, issues = peer_from_fields(fields, "n")
    assert issues == [] and peer is not None
