"""Pure parts of the ExaBGP driver: peer specs, config text, command lines, event parsing."""

from __future__ import annotations

import pytest

from metallb.config.model import Peer
from speaker.bgp import PeerSpec, PeerSpecError, RouteAttrs, normalise_prefix
from speaker.exabgp.config import (
    announce_commands,
    end_of_rib_commands,
    exabgp_env,
    render_attrs,
    render_config,
    withdraw_commands,
)
from speaker.exabgp.events import Ack, Other, Shutdown, StateChange, parse_line

NODE = ["192.0.2.11", "2001:db8:ffff::11"]


def spec(**kw) -> PeerSpec:
    base = dict(peer_address="192.0.2.1", peer_asn=64512, local_asn=64513,
                local_address="192.0.2.11", router_id="192.0.2.11", hold_time=3)
    return PeerSpec(**{**base, **kw})


# rule N8
def test_from_peer_defaults_come_from_the_node_addresses():
    v4 = PeerSpec.from_peer(Peer("192.0.2.1", 64512, 64513, hold_time=90.0), NODE)
    assert (v4.local_address, v4.router_id, v4.hold_time) == ("192.0.2.11", "192.0.2.11", 90)
    assert v4.address_families == ("ipv4 unicast",)
    v6 = PeerSpec.from_peer(Peer("2001:db8:ffff::1", 64512, 64513), NODE)
    assert (v6.local_address, v6.router_id) == ("2001:db8:ffff::11", "192.0.2.11")
    assert v6.address_families == ("ipv6 unicast",)


# rule N8
def test_from_peer_explicit_source_router_id_and_password_win():
    peer = Peer("192.0.2.1", 64512, 64512, source_address="192.0.2.99",
                router_id="10.0.0.1", password="pw", peer_port=1179)
    s = PeerSpec.from_peer(peer, NODE)
    assert (s.local_address, s.router_id, s.password, s.peer_port) == (
        "192.0.2.99", "10.0.0.1", "pw", 1179)
    assert s.is_ibgp


# rule N8
@pytest.mark.parametrize(
    ("peer", "nodes", "message"),
    [
        (Peer("2001:db8:ffff::1", 1, 2), ["192.0.2.11"], "no IPv6 address"),
        (Peer("2001:db8:ffff::1", 1, 2), ["2001:db8:ffff::11"], "router-id"),
        (Peer("192.0.2.1", 1, 2), ["not-an-ip"], "does not appear to be an IPv4"),
    ],
)
def test_from_peer_errors_name_the_peer_and_the_fix(peer, nodes, message):
    with pytest.raises(PeerSpecError, match=message) as err:
        PeerSpec.from_peer(peer, nodes)
    assert peer.peer_address in str(err.value)


# rule N8
@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"hold_time": 2}, "hold-time 2"),
        ({"password": 'a"b'}, "password"),
        ({"password": "a b"}, "password"),
        ({"password": ""}, "password"),
        ({"local_address": "2001:db8:ffff::11"}, "source-address"),
        ({"router_id": "2001:db8::1"}, "router-id"),
        ({"peer_asn": 0}, "peer-asn 0"),
        ({"peer_port": 70000}, "peer-port"),
        ({"families": ("ipv4 flow",)}, "unknown families"),
    ],
)
def test_invalid_peer_specs_are_refused_with_a_clear_message(kw, message):
    with pytest.raises(PeerSpecError, match=message):
        spec(**kw)


def test_render_config_has_process_neighbor_md5_families_and_api():
    text = render_config([spec(password="s3cret", peer_port=1179,
                               families=("ipv4 unicast", "ipv6 unicast"))],
                         ["/usr/bin/python3", "/x/relay.py", "/s/api.sock"])
    assert "run /usr/bin/python3 /x/relay.py /s/api.sock;" in text
    assert "encoder json;" in text
    for line in ("neighbor 192.0.2.1 {", "local-as 64513;", "peer-as 64512;",
                 "hold-time 3;", "passive false;", 'md5-password "s3cret";',
                 "peer-port 1179;", "ipv4 unicast;", "ipv6 unicast;", "group-updates false;",
                 "api { processes [ metallb ]; neighbor-changes; }"):
        assert line in text


def test_render_config_refuses_paths_that_would_break_the_file():
    with pytest.raises(PeerSpecError, match="whitespace"):
        render_config([], ["/usr/bin/python3", "/my dir/relay.py"])


def test_no_peers_renders_only_the_process():
    assert "neighbor" not in render_config([], ["/p", "/r", "/s"])


# rules N7 and N9
def test_announce_batches_equal_attributes_per_family_in_stable_order():
    a, b = RouteAttrs(), RouteAttrs(communities=("65000:1",), local_pref=100)
    routes = {"198.51.100.2/32": a, "198.51.100.1/32": a, "2001:db8::1/128": a,
              "203.0.113.0/24": b}
    assert announce_commands("192.0.2.1", routes) == [
        "neighbor 192.0.2.1 announce attributes next-hop self community [65000:1] "
        "local-preference 100 nlri 203.0.113.0/24",
        "neighbor 192.0.2.1 announce attributes next-hop self nlri 198.51.100.1/32 "
        "198.51.100.2/32",
        "neighbor 192.0.2.1 announce attributes next-hop self nlri 2001:db8::1/128",
    ]


def test_batches_are_split_at_the_batch_size():
    routes = {f"198.51.100.{i}/32": RouteAttrs() for i in range(5)}
    lines = announce_commands("192.0.2.1", routes, batch=2)
    assert [line.count("/32") for line in lines] == [2, 2, 1]
    assert [w.count("/32") for w in withdraw_commands("192.0.2.1", routes, batch=3)] == [3, 2]


def test_withdraw_splits_families():
    assert withdraw_commands("p", ["2001:db8::1/128", "198.51.100.1/32"]) == [
        "neighbor p withdraw attributes next-hop self nlri 198.51.100.1/32",
        "neighbor p withdraw attributes next-hop self nlri 2001:db8::1/128",
    ]
    assert withdraw_commands("p", []) == []


def test_normalise_prefix():
    assert normalise_prefix("198.51.100.7") == "198.51.100.7/32"
    assert normalise_prefix("2001:db8::1") == "2001:db8::1/128"
    with pytest.raises(ValueError):
        normalise_prefix("198.51.100.7/24")


def test_env_keeps_exabgp_root_without_cli_or_listener():
    env = exabgp_env()
    assert env["exabgp.api.ack"] == "true"
    assert env["exabgp.api.cli"] == "false"
    assert env["exabgp.tcp.bind"] == ""
    assert env["exabgp.daemon.daemonize"] == "false"


def test_parse_state_ack_and_shutdown_lines():
    up = ('{ "exabgp": "4.0.1", "type": "state", "neighbor": { "address": { "local": '
          '"192.0.2.11", "peer": "192.0.2.1" }, "asn": { "local": 64513, "peer": 64512 }, '
          '"state": "down", "reason": "peer reset" } }')
    assert parse_line(up) == StateChange("192.0.2.1", "192.0.2.11", "down", "peer reset")
    assert parse_line("done\n") == Ack(True)
    assert parse_line("error") == Ack(False)
    assert parse_line('{"type": "notification", "notification": "shutdown"}') == Shutdown()
    assert parse_line("{broken") == Other("{broken")
    assert parse_line('{"type": "update"}') == Other('{"type": "update"}')


# rules C5 and N8: ebgp-multihop reaches ExaBGP as the largest outgoing TTL
def test_ebgp_multihop_renders_outgoing_ttl():
    peer = Peer("203.0.113.254", 64520, 64513, ebgp_multihop=True)
    far = PeerSpec.from_peer(peer, NODE)
    assert far.ebgp_multihop
    text = render_config([far, spec()], ["relay"])
    far_block, near_block = text.split("neighbor 203.0.113.254 {")[1].split("neighbor 192.0.2.1")
    assert "    outgoing-ttl 255;" in far_block
    assert "outgoing-ttl" not in near_block  # ExaBGP leaves the kernel's default TTL (64)
    assert not PeerSpec.from_peer(Peer("192.0.2.1", 64512, 64513), NODE).ebgp_multihop


# rule N16
def test_large_communities_go_in_their_own_attribute():
    attrs = RouteAttrs(communities=("64512:1", "large:64512:1:2", "large:4200000000:0:7"))
    assert render_attrs(attrs) == ("next-hop self community [64512:1] "
                                   "large-community [64512:1:2 4200000000:0:7]")
    assert render_attrs(RouteAttrs(communities=("large:1:2:3",))) == (
        "next-hop self large-community [1:2:3]")


# rule N17
def test_graceful_restart_renders_the_capability_and_manual_end_of_rib():
    peer = Peer("192.0.2.1", 64512, 64513, enable_graceful_restart=True, name="p")
    text = render_config([PeerSpec.from_peer(peer, NODE)], ["/p", "/r", "/s"])
    assert "    capability { graceful-restart 120; }" in text
    assert "    manual-eor true;" in text
    plain = render_config([PeerSpec.from_peer(Peer("192.0.2.1", 64512, 64513), NODE)],
                          ["/p", "/r", "/s"])
    assert "graceful-restart" not in plain and "manual-eor" not in plain
    assert end_of_rib_commands("192.0.2.1", ("ipv4 unicast",)) == [
        "neighbor 192.0.2.1 announce eor ipv4 unicast"]


# rule K3: dynamicASN internal is our own ASN (the parser refuses external)
def test_dynamic_asn_internal_is_our_own_asn():
    peer = Peer("192.0.2.1", 0, 64513, dynamic_asn="internal", name="p")
    spec_ = PeerSpec.from_peer(peer, NODE)
    assert (spec_.peer_asn, spec_.is_ibgp) == (64513, True)
