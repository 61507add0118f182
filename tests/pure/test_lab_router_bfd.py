"""The lab's router runs BFD exactly when the config gives a peer a BFD profile, with
that profile's timers (lab.routers.upstream.router_bfd, lab.frr.RouterConfig)."""

from __future__ import annotations

from pathlib import Path

from lab.cluster import load_component_objects
from lab.frr import BfdTimers, RouterConfig
from lab.routers.upstream import config_of, router_bfd
from metallb.config import parse_config_text

PEER = "peer-address: 192.0.2.1, peer-asn: 64512, my-asn: 64513"


def test_a_peer_with_a_profile_gives_the_router_bfd_with_its_timers():
    config = parse_config_text(
        "bfd-profiles: [{name: f, transmit-interval: 100, detect-multiplier: 5}]\n"
        f"peers: [{{{PEER}}}, {{{PEER.replace('.1,', '.2,')}, bfd-profile: f}}]\n")
    assert router_bfd(config) == BfdTimers(name="f", tx=100, rx=300, multiplier=5)


def test_no_profile_no_bfd_and_the_default_lab_has_none():
    assert router_bfd(parse_config_text(f"peers: [{{{PEER}}}]\n")) is None
    assert router_bfd(None) is None
    assert router_bfd(config_of(load_component_objects(None))) is None


def test_frr_runs_bfdd_and_watches_every_node_group_with_the_profile():
    plain = RouterConfig()
    assert plain.daemons() == ("zebra", "bgpd") and " bfd" not in plain.render()
    config = RouterConfig(bfd=BfdTimers("fast", 50, 50, 3))
    assert config.daemons() == ("zebra", "bfdd", "bgpd")
    assert " neighbor NODES4 bfd profile fast" in config.render().splitlines()
    assert " neighbor NODES6 bfd profile fast" in config.render().splitlines()
    bfdd = config.render_bfdd(Path("/x/bfdd.log")).splitlines()
    assert bfdd[bfdd.index(" profile fast"):][:4] == [
        " profile fast", "  receive-interval 50", "  transmit-interval 50",
        "  detect-multiplier 3"]
