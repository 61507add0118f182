"""The readers of BIRD's and GoBGP's own output (lab/routers), on text the real daemons
printed (BIRD 2.0.12, GoBGP 3.10), and the configuration each router is given."""

from __future__ import annotations

import pytest

from lab.routers import bird, gobgp
from lab.routers.base import RoutePath, RouterSpec

BIRD_PROTOCOLS = """BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     15:52:51.800
nodes4     BGP        ---        start  15:52:51.800  Passive
  BGP state:          Passive
    Neighbor range:   192.0.2.0/24
node4_2    BGP        ---        up     15:52:51.848  Established
  BGP state:          Established
    Neighbor address: 192.0.2.12
    Neighbor AS:      64513
  Channel ipv4
    State:          UP
    Routes:         1 imported, 0 exported, 0 preferred
node6_1    BGP        ---        start  15:52:51.848  Active        Socket: Connection closed
  BGP state:          Active
    Neighbor address: 2001:db8:ffff::11
  Channel ipv6
    Routes:         0 imported, 0 exported, 0 preferred
"""

BIRD_ROUTE = """BIRD 2.0.12 ready.
Table master4:
198.51.100.10/32     unicast [node4_1 15:52:51.888] * (100) [AS64513i]
\tvia 192.0.2.11 on br0
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 64513
\tBGP.next_hop: 192.0.2.11
\tBGP.local_pref: 100
\tBGP.community: (65000,1) (65000,2)
                     unicast [node4_2 15:52:51.857] (100) [AS64513i]
\tvia 192.0.2.12 on br0
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 64513
\tBGP.next_hop: 192.0.2.12
\tBGP.local_pref: 150
"""

GOBGP_RIB = {"198.51.100.10/32": [
    {"nlri": {"prefix": "198.51.100.10/32"}, "best": True, "neighbor-ip": "192.0.2.11",
     "attrs": [{"type": 1, "value": 0},
               {"type": 2, "as_paths": [{"segment_type": 2, "num": 1, "asns": [64513]}]},
               {"type": 3, "nexthop": "192.0.2.11"},
               {"type": 5, "value": 150},
               {"type": 8, "communities": [4259840001]}]},
    {"nlri": {"prefix": "198.51.100.10/32"}, "best": False, "neighbor-ip": "192.0.2.12",
     "attrs": [{"type": 3, "nexthop": "192.0.2.12"}]}]}


def test_bird_sessions_are_the_spawned_neighbors_with_their_state_and_imports():
    found = bird.parse_protocols(BIRD_PROTOCOLS)
    assert [(p.name, p.neighbor, p.state, p.imported) for p in found] == [
        ("node4_2", "192.0.2.12", "Established", {"ipv4": 1}),
        ("node6_1", "2001:db8:ffff::11", "Active", {"ipv6": 0})]


def test_bird_routes_become_one_path_per_neighbor():
    peers = {"node4_1": "192.0.2.11", "node4_2": "192.0.2.12"}
    assert bird.parse_routes(BIRD_ROUTE, "198.51.100.10/32", peers) == [
        RoutePath("198.51.100.10/32", "192.0.2.11", "192.0.2.11", (64513,),
                  ("65000:1", "65000:2"), 100),
        RoutePath("198.51.100.10/32", "192.0.2.12", "192.0.2.12", (64513,), (), 150)]
    assert bird.parse_routes(BIRD_ROUTE, "198.51.100.11/32", peers) == []


def test_gobgp_rib_and_session_states():
    assert gobgp.parse_rib(GOBGP_RIB, "198.51.100.10/32") == [
        RoutePath("198.51.100.10/32", "192.0.2.11", "192.0.2.11", (64513,), ("65000:1",),
                  150),
        RoutePath("198.51.100.10/32", "192.0.2.12", "192.0.2.12")]
    neighbors = [{"state": {"neighbor_address": "192.0.2.11", "session_state": 6}},
                 {"state": {"neighbor_address": "192.0.2.12", "session_state": 3}}]
    assert gobgp.parse_sessions(neighbors) == {"192.0.2.11": "Established",
                                               "192.0.2.12": "Active"}


def test_bird_config_merges_paths_into_the_kernel_and_knows_ibgp_is_on_the_link():
    text = bird.render(RouterSpec(remote_as="internal", password="pw"))
    assert "merge paths on limit 8;" in text
    assert "neighbor range 192.0.2.0/24 internal;" in text and "direct;" in text
    assert 'password "pw";' in text
    multihop = bird.render(RouterSpec(ebgp_multihop=2, listen_v6=None))
    assert "multihop 2;" in multihop and "gateway recursive;" in multihop


def test_gobgp_takes_a_password_only_with_static_neighbors():
    assert "[[dynamic-neighbors]]" in gobgp.render(RouterSpec())
    with pytest.raises(ValueError, match="dynamic-neighbor range"):
        gobgp.render(RouterSpec(password="pw"))
    static = gobgp.render(RouterSpec(password="pw", listen_v6=None,
                                     neighbors=("192.0.2.11", "2001:db8:ffff::11")))
    assert 'neighbor-address = "192.0.2.11"' in static
    assert "2001:db8:ffff::11" not in static and "[[dynamic-neighbors]]" not in static
