"""Table tests for the config parser (docs/rules.md, section C: rules C1 to C14): every
rule accepts what it should and rejects what it should with the path and the offending
value in the message."""

from __future__ import annotations

import textwrap

import pytest

from metallb.config import ConfigError, ConfigSyntaxError, parse_config, parse_config_text
from metallb.config.model import (
    Advertisement,
    Config,
    NodeSelector,
    Peer,
    SelectorRequirement,
)
from tests.pure.config_text import issues_of, parse, single_pool

PEER = "{peer-address: 10.0.0.1, peer-asn: 65001, my-asn: 65000}"




# --- documents ---------------------------------------------------------------------------


# rule C1
@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n", "{}\n"])
def test_empty_document_is_valid(text):
    assert parse(text) == Config()


def test_parse_config_accepts_none_and_empty_mapping():
    assert parse_config(None) == Config()
    assert parse_config({}) == Config()


def test_null_top_level_sections_are_empty():
    assert parse("peers:\naddress-pools:\n") == Config()


BARE = """\
peers:
- peer-address: 10.0.0.1
  peer-asn: 65001
  my-asn: 65000
address-pools:
- name: pool1
  protocol: bgp
  addresses: [198.51.100.20/32]
"""


def configmap(body: str, name: str = "metallb") -> str:
    indented = textwrap.indent(body, "    ")
    return (
        "apiVersion: v1\nkind: ConfigMap\n"
        f"metadata: {{name: {name}, namespace: metallb-system}}\n"
        f"data:\n  config: |\n{indented}"
    )


# rule C1
def test_configmap_and_bare_document_give_the_same_config():
    bare = parse(BARE)
    assert parse(configmap(BARE)) == bare
    assert bare.pools[0].name == "pool1"
    assert bare.peers[0] == Peer(peer_address="10.0.0.1", peer_asn=65001, my_asn=65000)


# rule C1
def test_configmap_in_a_multi_document_file():
    text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: metallb-system}\n---\n"
    assert parse(text + configmap(BARE)) == parse(BARE)


def test_configmap_with_empty_config_is_valid():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata:\n  config: ''\n"
    assert parse(text) == Config()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n", "data.config: the ConfigMap"),
        ("apiVersion: v1\nkind: ConfigMap\ndata: {other: x}\n", "data.config: the ConfigMap"),
        ("apiVersion: v1\nkind: ConfigMap\ndata: {config: [1]}\n", "data.config: must be a string"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", "kind: is not a ConfigMap"),
        ("- 1\n- 2\n", "config: must be a mapping"),
        ("just a string\n", "config: must be a mapping"),
        ("a: 1\n---\nb: 2\n", "has 2 YAML documents"),
    ],
)
def test_document_shape_errors(text, expected):
    assert any(expected in line for line in issues_of(text)), issues_of(text)


def test_configmap_embedded_yaml_error_names_data_config_and_line():
    text = configmap("peers: [\n")
    with pytest.raises(ConfigSyntaxError) as info:
        parse(text)
    (issue,) = info.value.issues
    assert issue.path == "data.config"
    assert "line" in issue.message


@pytest.mark.parametrize(
    "text",
    [
        "peers: [\n",
        "a: b: c\n",
        "a: 'unterminated\n",
        "x: 1\nx: 2\n",
        "address-pools: {a: 1, a: 2}\n",
    ],
)
def test_yaml_syntax_errors_are_one_issue_with_a_line(text):
    with pytest.raises(ConfigSyntaxError) as info:
        parse(text)
    (issue,) = info.value.issues
    assert issue.path == ""
    assert "line " in issue.message


def test_duplicate_key_is_named():
    with pytest.raises(ConfigSyntaxError, match="duplicate key 'peers'"):
        parse("peers: []\npeers: []\n")


def test_error_carries_source():
    with pytest.raises(ConfigError) as info:
        parse_config_text("bogus: 1\n", "my.yaml")
    assert info.value.source == "my.yaml"
    assert str(info.value).startswith("my.yaml: ")


# --- unknown keys --------------------------------------------------------------------------


# rule C2
@pytest.mark.parametrize(
    ("text", "path", "key"),
    [
        ("bogus: 1\n", "bogus", "bogus"),
        (
            "peers:\n- {peer-adress: 10.0.0.1, peer-asn: 1, my-asn: 2}\n",
            "peers[0].peer-adress",
            "peer-adress",
        ),
        (
            single_pool("[192.0.2.0/24]", ", autoassign: true"),
            "address-pools[0].autoassign",
            "autoassign",
        ),
        (
            single_pool("[192.0.2.0/24]", ", bgp-advertisements: [{aggregation: 32}]"),
            "address-pools[0].bgp-advertisements[0].aggregation",
            "aggregation",
        ),
        (
            "peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, node-selectors: "
            "[{match-label: {a: b}}]}\n",
            "peers[0].node-selectors[0].match-label",
            "match-label",
        ),
        (
            "peer-autodiscovery: {from-annotations: [{my-asn: a, peer-asn: b, peer-address: c, "
            "peer-ip: d}]}\n",
            "peer-autodiscovery.from-annotations[0].peer-ip",
            "peer-ip",
        ),
        (
            "peer-autodiscovery: {from-annotation: []}\n",
            "peer-autodiscovery.from-annotation",
            "from-annotation",
        ),
    ],
)
def test_unknown_keys_are_errors(text, path, key):
    lines = issues_of(text)
    assert any(line.startswith(f"{path}: unknown key") and repr(key) in line for line in lines), (
        lines
    )


# --- peers ---------------------------------------------------------------------------------


# rules C5 and C6
def test_peer_all_fields():
    config = parse(
        """
        peers:
        - peer-address: 2001:db8::1
          peer-asn: 64512
          my-asn: 4200000000
          peer-port: 1179
          hold-time: 1m30s
          keepalive-time: 30s
          router-id: 10.0.0.9
          source-address: 2001:db8::2
          password: s3cret
          node-selectors:
          - match-labels: {kubernetes.io/hostname: worker1}
          - match-expressions:
            - {key: rack, operator: In, values: [r1, r2]}
            - {key: spot, operator: DoesNotExist}
        """
    )
    assert config.peers == (
        Peer(
            peer_address="2001:db8::1",
            peer_asn=64512,
            my_asn=4200000000,
            peer_port=1179,
            hold_time=90.0,
            keepalive_time=30.0,
            router_id="10.0.0.9",
            source_address="2001:db8::2",
            password="s3cret",
            node_selectors=(
                NodeSelector(match_labels=(("kubernetes.io/hostname", "worker1"),)),
                NodeSelector(
                    match_expressions=(
                        SelectorRequirement("rack", "In", ("r1", "r2")),
                        SelectorRequirement("spot", "DoesNotExist"),
                    )
                ),
            ),
        ),
    )


# rules C5 and C6
def test_peer_defaults():
    (peer,) = parse(f"peers: [{PEER}]\n").peers
    assert (peer.peer_port, peer.hold_time, peer.keepalive_time, peer.password) == (
        179,
        90,
        None,
        None,
    )
    assert peer.node_selectors == ()


# rule C6
@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90),
        ("1m30s", 90),
        ("3s", 3),
        ("0", 0),
        ("0s", 0),
        (120, 120),
        ("1h", 3600),
        ("4.5s", 4),  # cut to whole seconds, as MetalLB does (see test_config_upstream.py)
        ("3000ms", 3),
    ],
)
def test_hold_time_durations(value, seconds):
    text = f"peers:\n- {{peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, hold-time: {value!r}}}\n"
    if isinstance(value, int):
        text = text.replace(repr(value), str(value))
    assert parse(text).peers[0].hold_time == seconds


def peer_with(field: str, value: str) -> str:
    base = {"peer-address": "10.0.0.1", "peer-asn": "65001", "my-asn": "65000"}
    if value == "<absent>":
        base.pop(field)
    else:
        base[field] = value
    return "peers:\n- {" + ", ".join(f"{k}: {v}" for k, v in base.items()) + "}\n"


# rules C2, C3, C5 and C6
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("peer-address", "<absent>", "required key is missing"),
        ("peer-address", "10.0.0.300", "is not an IP address"),
        ("peer-address", "1234", "must be an IP address string, not integer"),
        ("peer-asn", "<absent>", "required key is missing"),
        ("peer-asn", '"65001"', "must be an integer, not string (remove the quotes)"),
        ("peer-asn", "0", "must be between 1 and 4294967295"),
        ("peer-asn", "4294967296", "must be between 1 and 4294967295"),
        ("peer-asn", "true", "must be an integer, not boolean"),
        ("my-asn", "<absent>", "required key is missing"),
        ("my-asn", "-1", "must be between 1 and 4294967295"),
        ("my-asn", "650.5", "must be an integer, not float"),
        ("peer-port", "65536", "must be between 1 and 65535"),
        ("peer-port", '"179"', "must be an integer, not string"),
        ("hold-time", "2s", "must be 0 (no keepalives) or at least 3s"),
        ("hold-time", "1", "must be 0 (no keepalives) or at least 3s"),
        ("hold-time", "ninety", "is not a duration"),
        ("hold-time", '"90"', "is not a duration"),
        ("hold-time", "-5s", "is not a duration"),
        ("hold-time", "-5", "must not be negative"),
        ("hold-time", "70000s", "must be at most 65535s"),
        ("hold-time", "1.5", "must be a duration"),
        ("keepalive-time", "100s", "must not exceed hold-time (90s)"),
        ("keepalive-time", "10parsecs", "is not a duration"),
        ("router-id", "2001:db8::1", "must be an IPv4 address"),
        ("router-id", "router", "is not an IPv4 address"),
        ("source-address", "10.0.0.1.1", "is not an IP address"),
    ],
)
def test_peer_field_errors(field, value, message):
    lines = issues_of(peer_with(field, value))
    path = f"peers[0].{field}"
    matching = [line for line in lines if line.startswith(f"{path}: ")]
    assert matching, lines
    assert message in matching[0], matching[0]
    if value not in ("<absent>", "''"):
        shown = value.strip('"')
        assert shown.lower() in matching[0].lower(), f"value {shown!r} not in {matching[0]!r}"


# rule C6
def test_keepalive_checked_against_explicit_hold_time():
    lines = issues_of(
        "peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, hold-time: 9s, "
        "keepalive-time: 10s}\n"
    )
    assert lines == ["peers[0].keepalive-time: must not exceed hold-time (9s) (value: '10s')"]


# rule C6
def test_zero_hold_time_allows_only_zero_keepalive():
    ok = "peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, hold-time: 0, "
    assert parse(ok + "keepalive-time: 0}\n").peers[0].hold_time == 0
    assert issues_of(ok + "keepalive-time: 1s}\n")


# rule C3
def test_password_is_never_shown():
    lines = issues_of(peer_with("password", "123456789"))
    assert lines == ["peers[0].password: must be a string, not integer"]
    (peer,) = parse(peer_with("password", "hunter2")).peers
    assert "hunter2" not in repr(peer)


# rule C8
def test_identical_peers_are_an_error_naming_both():
    lines = issues_of(f"peers: [{PEER}, {PEER}]\n")
    assert lines == ["peers[1]: is identical to peers[0]; remove one of them (value: '10.0.0.1')"]


# rule C8
def test_peers_differing_only_in_port_are_fine():
    text = f"peers: [{PEER}, {{peer-address: 10.0.0.1, peer-asn: 65001, my-asn: 65000, "
    assert len(parse(text + "peer-port: 1179}]\n").peers) == 2


def test_peer_entry_must_be_a_mapping():
    assert issues_of("peers: [10.0.0.1]\n") == [
        "peers[0]: must be a mapping, not string (value: '10.0.0.1')"
    ]
    assert issues_of("peers: {a: 1}\n") == ["peers: must be a list, not mapping"]


# --- node selectors --------------------------------------------------------------------------


def selector_issue(selector: str) -> list[str]:
    return issues_of(
        "peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, "
        f"node-selectors: [{selector}]}}\n"
    )


# rule C7
@pytest.mark.parametrize(
    ("selector", "path", "message"),
    [
        (
            "{match-labels: {ingress: true}}",
            "match-labels.ingress",
            "must be a string, not boolean",
        ),
        ('{match-labels: {"bad key!": x}}', 'match-labels["bad key!"]', "is not a valid label key"),
        ("{match-labels: {a: 'spaces not ok'}}", "match-labels.a", "is not a valid label value"),
        ("{match-labels: [a]}", "match-labels", "must be a mapping, not list"),
        (
            "{match-expressions: [{key: a, operator: In}]}",
            "match-expressions[0].values",
            "operator In needs a non-empty list",
        ),
        (
            "{match-expressions: [{key: a, operator: NotIn, values: []}]}",
            "match-expressions[0].values",
            "operator NotIn needs a non-empty list",
        ),
        (
            "{match-expressions: [{key: a, operator: Exists, values: [x]}]}",
            "match-expressions[0].values",
            "operator Exists takes no values",
        ),
        (
            "{match-expressions: [{key: a, operator: DoesNotExist, values: [x]}]}",
            "match-expressions[0].values",
            "operator DoesNotExist takes no values",
        ),
        (
            "{match-expressions: [{key: a, operator: Equals, values: [x]}]}",
            "match-expressions[0].operator",
            "must be one of In, NotIn, Exists, DoesNotExist",
        ),
        (
            "{match-expressions: [{operator: Exists}]}",
            "match-expressions[0].key",
            "required key is missing",
        ),
        (
            "{match-expressions: [{key: a}]}",
            "match-expressions[0].operator",
            "required key is missing",
        ),
        (
            "{match-expressions: [{key: a, operator: In, values: [1]}]}",
            "match-expressions[0].values[0]",
            "must be a string, not integer",
        ),
    ],
)
def test_node_selector_errors(selector, path, message):
    lines = selector_issue(selector)
    full = f"peers[0].node-selectors[0].{path}: "
    assert any(line.startswith(full) and message in line for line in lines), lines


# rule C7
def test_empty_selector_entry_matches_every_node():
    text = "peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, node-selectors: [{}]}\n"
    (peer,) = parse(text).peers
    assert peer.node_selectors == (NodeSelector(),)
    assert peer.selects({"anything": "x"})


# --- address pools -----------------------------------------------------------------------------


# rule C10
def test_pool_defaults():
    (pool,) = parse(single_pool("[192.0.2.0/24]")).pools
    assert (pool.name, pool.protocol, pool.auto_assign, pool.avoid_buggy_ips) == (
        "p",
        "bgp",
        True,
        False,
    )
    assert pool.advertisements == (Advertisement(),)
    (entry,) = pool.ranges
    assert (entry.family, entry.prefix_length, entry.size) == (4, 24, 256)


# rule C11
@pytest.mark.parametrize(
    ("entry", "first", "last", "family"),
    [
        ("192.0.2.0/24", "192.0.2.0", "192.0.2.255", 4),
        ("192.0.2.7/32", "192.0.2.7", "192.0.2.7", 4),
        ("192.0.2.10-192.0.2.20", "192.0.2.10", "192.0.2.20", 4),
        ("192.0.2.10 - 192.0.2.20", "192.0.2.10", "192.0.2.20", 4),
        ("192.0.2.10-192.0.2.10", "192.0.2.10", "192.0.2.10", 4),
        ("2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", 6),
        ("2001:db8::1-2001:db8::9", "2001:db8::1", "2001:db8::9", 6),
    ],
)
def test_address_entries(entry, first, last, family):
    import ipaddress

    (pool,) = parse(single_pool(f"['{entry}']")).pools
    (parsed,) = pool.ranges
    assert parsed.first == int(ipaddress.ip_address(first))
    assert parsed.last == int(ipaddress.ip_address(last))
    assert parsed.family == family
    assert parsed.source == entry


# rules C11 and D4
@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("192.0.2.1", 'for a single address write "192.0.2.1/32"'),
        ("2001:db8::1", 'for a single address write "2001:db8::1/128"'),
        ("192.0.2.0/33", "is not a valid CIDR"),
        ("192.0.2.300/32", "is not a valid CIDR"),
        ("192.0.2.9-192.0.2.1", "range start 192.0.2.9 is after its end 192.0.2.1"),
        ("192.0.2.1-2001:db8::1", "range ends must be the same IP family"),
        ("192.0.2.1-192.0.2.5-192.0.2.9", 'a range has exactly one "-"'),
        ("192.0.2.1-x", 'is not a valid range "A-B"'),
        ("192.0.2.0/28-192.0.2.99", 'is not a valid range "A-B"'),
    ],
)
def test_address_entry_errors(entry, message):
    (line,) = issues_of(single_pool(f"['{entry}']"))
    assert line.startswith("address-pools[0].addresses[0]: ")
    assert message in line
    assert line.endswith(f"(value: {entry!r})")


def test_address_entry_must_be_string():
    assert issues_of(single_pool("[[1]]"))[0].startswith(
        "address-pools[0].addresses[0]: must be a string"
    )


# rules C10 and C14
@pytest.mark.parametrize(
    ("pool", "path", "message"),
    [
        ("{protocol: bgp, addresses: [192.0.2.0/24]}", "name", "required key is missing"),
        ("{name: '', protocol: bgp, addresses: [192.0.2.0/24]}", "name", "must not be empty"),
        ("{name: 7, protocol: bgp, addresses: [192.0.2.0/24]}", "name", "must be a string"),
        ("{name: p, addresses: [192.0.2.0/24]}", "protocol", "required key is missing"),
        ("{name: p, protocol: BGP, addresses: [192.0.2.0/24]}", "protocol", "must be one of"),
        ("{name: p, protocol: bgp}", "addresses", "required key is missing"),
        ("{name: p, protocol: bgp, addresses: []}", "addresses", "must not be empty"),
        ("{name: p, protocol: bgp, addresses: 192.0.2.0/24}", "addresses", "must be a list"),
        (
            "{name: p, protocol: bgp, addresses: [192.0.2.0/24], auto-assign: 'false'}",
            "auto-assign",
            "must be a boolean (true or false), not string",
        ),
        (
            "{name: p, protocol: bgp, addresses: [192.0.2.0/24], avoid-buggy-ips: 1}",
            "avoid-buggy-ips",
            "must be a boolean (true or false), not integer",
        ),
        (
            "{name: p, protocol: layer2, addresses: [192.0.2.0/24], bgp-advertisements: [{}]}",
            "bgp-advertisements",
            "only pools with protocol bgp",
        ),
    ],
)
def test_pool_field_errors(pool, path, message):
    lines = issues_of(f"address-pools:\n- {pool}\n")
    assert any(
        line.startswith(f"address-pools[0].{path}: ") and message in line for line in lines
    ), lines


# rule C10
def test_layer2_pool_is_parsed():
    (pool,) = parse(
        "address-pools:\n- {name: l2, protocol: layer2, addresses: [192.0.2.0/24]}\n"
    ).pools
    assert pool.protocol == "layer2"


# rule C10
def test_duplicate_pool_names():
    text = (
        "address-pools:\n- {name: p, protocol: bgp, addresses: [192.0.2.0/25]}\n"
        "- {name: p, protocol: bgp, addresses: [192.0.2.128/25]}\n"
    )
    assert issues_of(text) == [
        "address-pools[1].name: duplicate pool name, also used by address-pools[0] (value: 'p')"
    ]


# rule C12
def test_overlap_across_pools_names_both_places():
    text = (
        "address-pools:\n- {name: a, protocol: bgp, addresses: [192.0.2.0/24]}\n"
        "- {name: b, protocol: bgp, addresses: [198.51.100.0/24, 192.0.2.10-192.0.2.12]}\n"
    )
    assert issues_of(text) == [
        "address-pools[1].addresses[1]: overlaps address-pools[0].addresses[0] (192.0.2.0/24); "
        "an address may belong to only one entry (value: '192.0.2.10-192.0.2.12')"
    ]


# rule C12
def test_overlap_within_pool_and_ipv6():
    lines = issues_of(single_pool("['2001:db8::/120', '2001:db8::ff-2001:db8::1ff']"))
    assert len(lines) == 1
    assert "address-pools[0].addresses[1]: overlaps address-pools[0].addresses[0]" in lines[0]


def test_adjacent_entries_do_not_overlap():
    pools = parse(single_pool("[192.0.2.0/25, 192.0.2.128-192.0.2.255]")).pools
    assert len(pools[0].ranges) == 2


def test_same_numbers_in_different_families_do_not_overlap():
    # ::c000:200/120 has the same integers as 192.0.2.0/24.
    assert parse(single_pool("[192.0.2.0/24, '::c000:200/120']")).pools


# rule C12
def test_every_overlap_is_reported():
    lines = issues_of(single_pool("[192.0.2.0/24, 192.0.2.0/25, 192.0.2.128/25, 192.0.2.5/32]"))
    assert len(lines) == 3


# --- advertisements and communities --------------------------------------------------------------


# rules C9 and C13
def test_advertisements_resolve_communities():
    config = parse(
        """
        bgp-communities:
          no-advertise: "65535:65282"
        address-pools:
        - name: p
          protocol: bgp
          addresses: [192.0.2.0/24, 2001:db8::/64]
          bgp-advertisements:
          - aggregation-length: 32
            localpref: 100
            communities: [no-advertise, "064512:0010"]
          - aggregation-length: 24
            aggregation-length-v6: 64
        """
    )
    assert config.bgp_communities == (("no-advertise", "65535:65282"),)
    assert config.pools[0].advertisements == (
        Advertisement(32, 128, 100, ("65535:65282", "64512:10")),
        Advertisement(24, 64, None, ()),
    )


# rule C14
def test_empty_advertisement_list_means_default():
    (pool,) = parse(single_pool("[192.0.2.0/24]", ", bgp-advertisements: []")).pools
    assert pool.advertisements == (Advertisement(),)


# rule C13
@pytest.mark.parametrize(
    ("addresses", "advertisement", "path", "message"),
    [
        (
            "[192.0.2.0/24]",
            "{aggregation-length: 33}",
            "aggregation-length",
            "must be between 0 and 32",
        ),
        (
            "[192.0.2.0/24]",
            "{aggregation-length-v6: 129}",
            "aggregation-length-v6",
            "must be between 0 and 128",
        ),
        (
            "[192.0.2.0/24]",
            "{aggregation-length: 23}",
            "aggregation-length",
            "aggregation-length 23 is shorter than the /24 of address entry '192.0.2.0/24'",
        ),
        (
            "['192.0.2.10-192.0.2.20']",
            "{aggregation-length: 29}",
            "aggregation-length",
            "shorter than the /30 of address entry '192.0.2.10-192.0.2.20'",
        ),
        (
            "['2001:db8::/64']",
            "{aggregation-length-v6: 48}",
            "aggregation-length-v6",
            "shorter than the /64",
        ),
        ("[192.0.2.0/24]", "{localpref: -1}", "localpref", "must be between 0 and 4294967295"),
        ("[192.0.2.0/24]", "{localpref: '100'}", "localpref", "must be an integer, not string"),
        ("[192.0.2.0/24]", "{communities: [nope]}", "communities[0]", "unknown community alias"),
        (
            "[192.0.2.0/24]",
            "{communities: ['1:70000']}",
            "communities[0]",
            "community halves must be between 0 and 65535",
        ),
        ("[192.0.2.0/24]", "{communities: ['1:2:3']}", "communities[0]", "is not a BGP community"),
        (
            "[192.0.2.0/24]",
            "{communities: [12]}",
            "communities[0]",
            'must be a community string "A:B"',
        ),
    ],
)
def test_advertisement_errors(addresses, advertisement, path, message):
    lines = issues_of(single_pool(addresses, f", bgp-advertisements: [{advertisement}]"))
    full = f"address-pools[0].bgp-advertisements[0].{path}: "
    assert any(line.startswith(full) and message in line for line in lines), lines


# rule C13
def test_aggregation_at_shortest_prefix_of_a_split_range_is_accepted():
    # 192.0.2.10-20 splits into /31, /30, /30, /32 (MetalLB's rule): /30 is the floor.
    (pool,) = parse(
        single_pool("['192.0.2.10-192.0.2.20']", ", bgp-advertisements: [{aggregation-length: 30}]")
    ).pools
    assert pool.advertisements[0].aggregation_length == 30


def test_aggregation_v4_ignores_v6_entries():
    (pool,) = parse(
        single_pool("['2001:db8::/64']", ", bgp-advertisements: [{aggregation-length: 0}]")
    ).pools
    assert pool.advertisements[0].aggregation_length == 0


# rule C9
@pytest.mark.parametrize(
    ("communities", "path", "message"),
    [
        ("{a: '1'}", "bgp-communities.a", "is not a BGP community"),
        ("{a: 65536:1}", "bgp-communities.a", "must be a community string"),
        ("{a: '65536:1'}", "bgp-communities.a", "community halves must be between 0 and 65535"),
        ("[a]", "bgp-communities", "must be a mapping of alias"),
    ],
)
def test_community_errors(communities, path, message):
    lines = issues_of(f"bgp-communities: {communities}\n")
    assert any(line.startswith(f"{path}: ") and message in line for line in lines), lines


# --- all errors at once --------------------------------------------------------------------------


# rule C3
def test_all_errors_are_reported_not_only_the_first():
    text = """
    bogus: 1
    bgp-communities: {bad: "x"}
    peers:
    - {peer-address: nope, peer-asn: 0, my-asn: 1}
    - {peer-address: 10.0.0.2, my-asn: 1}
    address-pools:
    - {name: a, protocol: bgp, addresses: [192.0.2.0/33]}
    - {name: b, protocol: ospf, addresses: [198.51.100.0/24], auto-assign: 1}
    - {name: c, protocol: bgp, addresses: [198.51.100.7/32]}
    """
    paths = sorted(line.split(": ", 1)[0] for line in issues_of(text))
    assert paths == sorted(
        [
            "bogus",
            "bgp-communities.bad",
            "peers[0].peer-address",
            "peers[0].peer-asn",
            "peers[1].peer-asn",
            "address-pools[0].addresses[0]",
            "address-pools[1].protocol",
            "address-pools[1].auto-assign",
            "address-pools[2].addresses[0]",
        ]
    )
