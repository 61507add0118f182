"""Fidelity to MetalLB v0.9-v0.12's legacy config parser (internal/config/config.go and
its config_test.go tables): what upstream accepts we accept, what v0.12 refuses we
refuse. Only the cases where we once differed are here; the rest of upstream's tables
agree with test_config_parse.py. Deliberate differences are tested and listed at the end
(and in README, "Differences from MetalLB")."""

from __future__ import annotations

import pytest

from metallb.config.model import Advertisement, NodeSelector, Peer, SelectorRequirement
from metallb.config.summary import summarize
from tests.pure.config_text import issues_of, parse, single_pool

PEER = "peer-address: 10.0.0.1, peer-asn: 65001, my-asn: 65000"




# --- host bits: masked like Go's net.ParseCIDR, with a warning ---------------------------


# rules C11, C23 and D4
@pytest.mark.parametrize(
    ("written", "network"),
    [("198.51.100.7/24", "198.51.100.0/24"), ("2001:db8::1/64", "2001:db8::/64")],
)
def test_cidr_with_host_bits_is_its_network_with_a_warning(written, network):
    config = parse(single_pool(f"['{written}']"))
    assert config == parse(single_pool(f"['{network}']"))
    (entry,) = config.pools[0].ranges
    assert entry.source == network
    assert [str(w) for w in config.warnings] == [
        f"address-pools[0].addresses[0]: has host bits set; read as {network}, the whole "
        f"network (value: '{written}')"
    ]
    assert network in "\n".join(summarize(config))


# rules C11 and C12
def test_masked_cidr_still_counts_for_overlaps():
    text = single_pool("[198.51.100.7/24, 198.51.100.128/25]")
    assert issues_of(text) == [
        "address-pools[0].addresses[1]: overlaps address-pools[0].addresses[0] "
        "(198.51.100.0/24); an address may belong to only one entry (value: '198.51.100.128/25')"
    ]


def test_a_clean_config_has_no_warnings():
    assert parse(single_pool()).warnings == ()


# --- null reads as the Go zero value, which upstream takes as "not given" ---------------


# rule C19
@pytest.mark.parametrize(
    ("with_nulls", "without"),
    [
        (single_pool(extra=", bgp-advertisements: [null]"), single_pool()),
        (single_pool(extra=", bgp-advertisements: [~]"), single_pool()),
        (single_pool(extra=", bgp-advertisements: null"), single_pool()),
        (single_pool(extra=", auto-assign: null"), single_pool()),
        (single_pool(extra=", avoid-buggy-ips: null"), single_pool()),
        (
            single_pool(
                extra=", bgp-advertisements: [{aggregation-length: null, "
                "aggregation-length-v6: null, localpref: null, communities: null}]"
            ),
            single_pool(),
        ),
        (
            f"peers: [{{{PEER}, peer-port: null, hold-time: null, keepalive-time: null,"
            " router-id: null, source-address: null, password: null, node-selectors: null,"
            " ebgp-multihop: null}]\n",
            f"peers: [{{{PEER}}}]\n",
        ),
        (
            f"peers: [{{{PEER}, node-selectors: [null]}}]\n",
            f"peers: [{{{PEER}, node-selectors: [{{}}]}}]\n",
        ),
        (
            f"peers: [{{{PEER}, node-selectors: "
            "[{match-labels: null, match-expressions: null}]}]\n",
            f"peers: [{{{PEER}, node-selectors: [{{}}]}}]\n",
        ),
        (
            f"peers: [{{{PEER}, node-selectors: [{{match-labels: {{rack: null}}}}]}}]\n",
            f"peers: [{{{PEER}, node-selectors: [{{match-labels: {{rack: ''}}}}]}}]\n",
        ),
        (
            f"peers: [{{{PEER}, node-selectors: [{{match-expressions: "
            "[{key: rack, operator: In, values: [null]}]}]}]\n",
            f"peers: [{{{PEER}, node-selectors: [{{match-expressions: "
            "[{key: rack, operator: In, values: ['']}]}]}]\n",
        ),
        (
            f"peers: [{{{PEER}, node-selectors: [{{match-expressions: "
            "[{key: rack, operator: Exists, values: null}]}]}]\n",
            f"peers: [{{{PEER}, node-selectors: [{{match-expressions: "
            "[{key: rack, operator: Exists}]}]}]\n",
        ),
    ],
)
def test_null_means_not_given(with_nulls, without):
    config = parse(with_nulls)
    assert config == parse(without)
    assert config.warnings == ()


# rule C19
def test_null_defaults_are_the_documented_defaults():
    config = parse(
        single_pool(extra=", auto-assign: null, avoid-buggy-ips: null, bgp-advertisements: [null]")
        + f"peers: [{{{PEER}, node-selectors: [null], ebgp-multihop: null}}]\n"
    )
    (p,) = config.pools
    assert (p.auto_assign, p.avoid_buggy_ips, p.advertisements) == (True, False, (Advertisement(),))
    (peer,) = config.peers
    assert peer == Peer("10.0.0.1", 65001, 65000, node_selectors=(NodeSelector(),))
    assert peer.selects({"any": "node"}) and peer.selects({})
    assert config.pools[0].advertisements[0] == Advertisement(32, 128, None, ())


# rule C19
def test_null_label_value_is_the_empty_value():
    config = parse(
        f"peers: [{{{PEER}, node-selectors: [{{match-expressions: "
        "[{key: rack, operator: In, values: [null]}]}]}]\n"
    )
    (selector,) = config.peers[0].node_selectors
    assert selector.match_expressions == (SelectorRequirement("rack", "In", ("",)),)
    assert config.peers[0].selects({"rack": ""})
    assert not config.peers[0].selects({"rack": "r1"})


# rule C19
@pytest.mark.parametrize(
    ("text", "path"),
    [
        # Upstream refuses these too: the zero value of a required field is "missing".
        ("peers: [null]\n", "peers[0].peer-address"),
        (f"peers: [{{{PEER.replace('65000', 'null')}}}]\n", "peers[0].my-asn"),
        ("address-pools: [null]\n", "address-pools[0].name"),
        ("address-pools:\n- {name: null, protocol: bgp, addresses: [198.51.100.0/24]}\n",
         "address-pools[0].name"),
        ("address-pools:\n- {name: p, protocol: null, addresses: [198.51.100.0/24]}\n",
         "address-pools[0].protocol"),
        ("address-pools:\n- {name: p, protocol: bgp, addresses: null}\n",
         "address-pools[0].addresses"),
        (single_pool("[null]"), "address-pools[0].addresses[0]"),
        ("bgp-communities: {a: null}\n", "bgp-communities.a"),
        (single_pool(extra=", bgp-advertisements: [{communities: [null]}]"),
         "address-pools[0].bgp-advertisements[0].communities[0]"),
        (f"peers: [{{{PEER}, node-selectors: [{{match-expressions: [null]}}]}}]\n",
         "peers[0].node-selectors[0].match-expressions[0].key"),
        ("address-pools:\n- {name: p, protocol: layer2, addresses: [198.51.100.0/24], "
         "bgp-advertisements: [null]}\n", "address-pools[0].bgp-advertisements"),
    ],
)
def test_null_where_upstream_refuses_the_zero_value(text, path):
    assert any(line.startswith(f"{path}: ") for line in issues_of(text)), issues_of(text)


# rules C20 and C23
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("peer-port", "0"),
        ("hold-time", "''"),
        ("keepalive-time", "''"),
        ("router-id", "''"),
        ("source-address", "''"),
        ("password", "''"),
    ],
)
def test_written_zero_value_is_not_given_with_a_warning(field, value):
    config = parse(f"peers: [{{{PEER}, {field}: {value}}}]\n")
    assert config == parse(f"peers: [{{{PEER}}}]\n")
    (warning,) = config.warnings
    assert warning.path == f"peers[0].{field}"
    assert "reads as not given, as in MetalLB" in warning.message


# --- other values upstream accepts ---------------------------------------------------------


# rules C6 and C23
@pytest.mark.parametrize(
    ("field", "written", "seconds"),
    [
        ("hold-time", "4.5s", 4),
        ("hold-time", "500ms", 0),  # upstream: 0, no keepalives; not "too short"
        ("keepalive-time", "1.5s", 1),
    ],
)
def test_timers_are_cut_to_whole_seconds_with_a_warning(field, written, seconds):
    config = parse(f"peers: [{{{PEER}, {field}: {written}}}]")
    assert getattr(config.peers[0], field.replace("-", "_")) == seconds
    (warning,) = config.warnings
    assert str(warning) == (
        f"peers[0].{field}: is cut to whole seconds, as in MetalLB: {seconds}s "
        f"(value: '{written}')"
    )


# rules C10 and C23
def test_any_pool_name_is_accepted_with_a_warning_when_unusual():
    config = parse("address-pools:\n- {name: 'my pool!', protocol: bgp, "
                   "addresses: [198.51.100.0/24]}\n")
    assert config.pools[0].name == "my pool!"
    (warning,) = config.warnings
    assert warning.path == "address-pools[0].name"
    assert warning.message.startswith("is accepted as in MetalLB, but a name is safest as")


# --- ebgp-multihop (v0.12) ---------------------------------------------------------------


# rule C21
def test_ebgp_multihop_is_a_peer_bool_defaulting_to_false():
    on, off, default = parse(
        f"peers:\n- {{{PEER}, ebgp-multihop: true}}\n"
        f"- {{{PEER.replace('10.0.0.1', '10.0.0.2')}, ebgp-multihop: false}}\n"
        f"- {{{PEER.replace('10.0.0.1', '10.0.0.3')}}}\n"
    ).peers
    assert (on.ebgp_multihop, off.ebgp_multihop, default.ebgp_multihop) == (True, False, False)
    summary = summarize(parse(f"peers: [{{{PEER}, ebgp-multihop: true}}]"))
    assert "ebgp-multihop" in "\n".join(summary)


# rule C21
def test_ebgp_multihop_refused_for_ibgp_as_v012():
    ibgp = "peers: [{peer-address: 10.0.0.1, peer-asn: 42, my-asn: 42, ebgp-multihop: %s}]"
    assert issues_of(ibgp % "true") == [
        "peers[0].ebgp-multihop: is for eBGP peers only; this peer is iBGP (peer-asn equals "
        "my-asn) (value: True)"
    ]
    assert parse(ibgp % "false").peers[0].ebgp_multihop is False


# rule C21
def test_ebgp_multihop_must_be_a_boolean():
    assert issues_of(f"peers: [{{{PEER}, ebgp-multihop: 'yes'}}]") == [
        "peers[0].ebgp-multihop: must be a boolean (true or false), not string (value: 'yes')"
    ]


# --- refused by v0.12: duplicates inside a pool's advertisements ---------------------------


# rule C13
@pytest.mark.parametrize(
    "advertisements",
    [
        "[{aggregation-length: 26}, {aggregation-length: 26}]",  # upstream's own case
        "[{localpref: 100, communities: ['1:1']}, {communities: ['1:1'], localpref: 100}]",
        "[null, {}]",
        "[{}, {aggregation-length: 24}, {}]",
    ],
)
def test_identical_advertisements_are_refused_with_the_path(advertisements):
    lines = issues_of(single_pool(extra=f", bgp-advertisements: {advertisements}"))
    assert len(lines) == 1
    assert lines[0].startswith("address-pools[0].bgp-advertisements[")
    assert "is identical to address-pools[0].bgp-advertisements[0]; remove one of them" in lines[0]


def test_advertisements_written_differently_are_not_duplicates():
    # v0.12 compares them as written: a default spelled out is a different advertisement.
    config = parse(single_pool(extra=", bgp-advertisements: [{}, {aggregation-length: 32}]"))
    assert config.pools[0].advertisements == (Advertisement(), Advertisement())


# rule C9
def test_same_community_twice_is_refused_with_the_path():
    text = "bgp-communities: {bar: '64512:1234'}\n" + single_pool(
        extra=", bgp-advertisements: [{communities: [bar, '1:2', bar]}]"
    )
    assert issues_of(text) == [
        "address-pools[0].bgp-advertisements[0].communities[2]: duplicate of "
        "address-pools[0].bgp-advertisements[0].communities[0] (value: 'bar')"
    ]
    assert issues_of(single_pool(extra=", bgp-advertisements: [{communities: ['1:2', '1:2']}]"))


# rule C9
def test_alias_and_its_value_are_one_community():
    # Different text, so v0.12 accepts it; both name one community.
    text = "bgp-communities: {bar: '64512:1234'}\n" + single_pool(
        extra=", bgp-advertisements: [{communities: [bar, '64512:1234']}]"
    )
    assert parse(text).pools[0].advertisements[0].communities == ("64512:1234",)


# --- deliberate differences ----------------------------------------------------------------


# rule C22
def test_bfd_echo_mode_is_refused_with_a_reason():
    # Upstream hands echo mode to FRR; our engine runs asynchronous mode only.
    lines = issues_of(
        "bfd-profiles: [{name: default, echo-mode: true}]\n"
        f"peers: [{{{PEER}, bfd-profile: default}}]\n"
    )
    assert lines[0] == (
        "bfd-profiles[0].echo-mode: echo mode is not implemented (the BFD engine runs "
        "asynchronous mode only); remove echo-mode or set it to false (value: True)"
    )


@pytest.mark.parametrize(
    "extra",
    [
        # Go's decoder would use the scalar's text, but YAML 1.1 has already turned 0777
        # into 511 and yes into true by the time we see it: quoting is the only safe reading.
        "password: 12345",
        "router-id: 1",
        "node-selectors: [{match-labels: {spot: true}}]",
        # Upstream accepts it, then its speaker panics: a BGP router ID is 32 bits.
        "router-id: '2001:db8::1'",
        # Upstream never checks these; they mean nothing.
        "keepalive-time: -5s",
    ],
)
def test_deliberately_refused_peer_values(extra):
    assert issues_of(f"peers: [{{{PEER}, {extra}}}]")


def test_negative_aggregation_length_for_an_absent_family_is_refused():
    # Upstream only compares it with the pool's prefixes of that family; there are none.
    assert issues_of(single_pool(extra=", bgp-advertisements: [{aggregation-length-v6: -1}]"))


def test_duration_as_integer_seconds_is_ours():
    # Upstream refuses `hold-time: 90` ("missing unit"); we read it as 90 seconds.
    assert parse(f"peers: [{{{PEER}, hold-time: 120}}]").peers[0].hold_time == 120


# --- the daemons log the warnings of the config they apply --------------------------------


# rule C23
def test_daemons_log_config_warnings_when_applying(caplog):
    from prometheus_client import CollectorRegistry

    from metallb.config_source import ConfigSource
    from metallb.metrics import K8sClientMetrics

    source = ConfigSource("metallb-system", "metallb", "config",
                          K8sClientMetrics(CollectorRegistry()))
    configmap = {"data": {"config": single_pool("[198.51.100.7/24]")}}
    config = source.candidate(configmap)
    assert config is not None and config.pools[0].ranges[0].source == "198.51.100.0/24"
    with caplog.at_level("INFO", logger="metallb.config"):
        source.applied(config)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "event=config_warning configmap=metallb-system/metallb path=address-pools[0].addresses[0]"
        ' problem="has host bits set; read as 198.51.100.0/24, the whole network"'
        " value=198.51.100.7/24"
    ]
