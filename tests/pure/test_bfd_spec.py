"""From a configured peer and its BFD profile to the session the BFD process runs."""

from __future__ import annotations

import pytest

from metallb.config.model import BfdProfile, Peer
from speaker.bfd.spec import MULTIHOP_PORT, SINGLE_HOP_PORT, SessionSpec, spec_for_peer

PEER = Peer("192.0.2.1", 64512, 64513)


def test_a_directly_connected_peer_gets_a_single_hop_session_with_frr_defaults():
    spec = spec_for_peer(PEER, BfdProfile("p"))
    assert spec == SessionSpec("192.0.2.1", None, False, 300, 300, 3, False, 254)
    assert spec.port == SINGLE_HOP_PORT


def test_an_ebgp_multihop_peer_gets_a_multihop_session_from_its_source_address():
    peer = Peer("198.51.100.1", 64512, 64513, source_address="192.0.2.11", ebgp_multihop=True)
    profile = BfdProfile("p", receive_interval=50, transmit_interval=60, detect_multiplier=5,
                         passive_mode=True, minimum_ttl=200)
    spec = spec_for_peer(peer, profile)
    assert spec == SessionSpec("198.51.100.1", "192.0.2.11", True, 60, 50, 5, True, 200)
    assert spec.port == MULTIHOP_PORT and spec.key == ("198.51.100.1", True)


def test_specs_travel_as_json_unchanged():
    spec = SessionSpec("2001:db8::1", "2001:db8::2", True, 50, 50, 3)
    assert SessionSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    "kwargs",
    [{"peer": "nope"}, {"peer": "192.0.2.1", "local": "2001:db8::1"},
     {"peer": "192.0.2.1", "detect_multiplier": 0}, {"peer": "192.0.2.1", "transmit_interval": 0}],
)
def test_bad_specs_are_refused(kwargs):
    with pytest.raises(ValueError):
        SessionSpec(**kwargs)


def test_unknown_spec_keys_are_refused():
    with pytest.raises(TypeError):
        SessionSpec.from_json({"peer": "192.0.2.1", "colour": "red"})
