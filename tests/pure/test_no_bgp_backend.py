"""`--bgp-backend none` (benchmarks only) holds exactly the last desired routes, reports
them as announced, and logs a line per peer whose table changed."""

from __future__ import annotations

import logging

import pytest

from speaker.backends import make_backend
from speaker.bgp import PeerSpec, RouteAttrs
from speaker.cli import parse_settings
from speaker.no_bgp import NoBGPBackend

PEER = "192.0.2.1"
SPEC = PeerSpec(peer_address=PEER, peer_asn=64500, local_asn=64501,
                local_address="192.0.2.2", router_id="192.0.2.2")
ATTRS = RouteAttrs()


def backend() -> NoBGPBackend:
    made = make_backend(parse_settings(["--node-name", "n1", "--bgp-backend", "none"]), [],
                        on_event=lambda event: None)
    assert isinstance(made, NoBGPBackend)
    made.start()
    made.set_peers([SPEC])
    return made


def test_the_flag_picks_the_backend_and_exabgp_stays_the_default() -> None:
    assert parse_settings(["--node-name", "n1"]).bgp_backend == "exabgp"
    assert isinstance(backend(), NoBGPBackend)


def test_set_routes_replaces_and_change_routes_applies_only_the_changes() -> None:
    b = backend()
    b.set_routes({PEER: {"198.51.100.1/32": ATTRS, "198.51.100.2/32": ATTRS}})
    b.change_routes({PEER: {"198.51.100.1/32": None, "198.51.100.3/32": ATTRS}})
    assert set(b.held()[PEER]) == {"198.51.100.2/32", "198.51.100.3/32"}
    b.set_routes({PEER: {"198.51.100.9/32": ATTRS}})
    assert set(b.held()[PEER]) == {"198.51.100.9/32"}


def test_every_session_is_up_with_the_held_routes_announced() -> None:
    b = backend()
    b.set_routes({PEER: {"198.51.100.1/32": ATTRS}})
    state = b.sessions()[PEER]
    assert (state.up, state.announced_prefixes, state.pending_prefixes,
            state.updates_sent) == (True, 1, 0, 1)


def test_stop_withdraws_everything() -> None:
    b = backend()
    b.set_routes({PEER: {"198.51.100.1/32": ATTRS}})
    b.stop()
    assert b.held() == {} and b.sessions() == {}


def test_a_changed_table_is_logged_with_its_size_and_an_unchanged_one_is_not(
        caplog: pytest.LogCaptureFixture) -> None:
    b = backend()
    caplog.set_level(logging.INFO, logger="metallb.speaker.no_bgp")
    b.set_routes({PEER: {"198.51.100.1/32": ATTRS, "198.51.100.2/32": ATTRS}})
    b.set_routes({PEER: {"198.51.100.1/32": ATTRS, "198.51.100.2/32": ATTRS}})
    held = [r.getMessage() for r in caplog.records if "bgp_routes_held" in r.getMessage()]
    assert len(held) == 1 and "prefixes=2" in held[0] and "changed=2" in held[0]
