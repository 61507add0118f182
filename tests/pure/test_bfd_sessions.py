"""Which BFD sessions the speaker runs (speaker.bfd_wiring.bfd_sessions) and which BFD
events reset a BGP session (is_failure)."""

from __future__ import annotations

from speaker.bfd.client import BfdEvent
from speaker.bfd.spec import SessionSpec
from speaker.bfd_wiring import bfd_sessions, is_failure
from speaker.bgp import PeerSpec
from tests.pure.config_text import parse

CONFIG = parse(
    "bfd-profiles: [{name: fast, receive-interval: 50, transmit-interval: 60, "
    "detect-multiplier: 4, passive-mode: true}]\n"
    "peers:\n"
    "- {peer-address: 192.0.2.1, peer-asn: 64512, my-asn: 64513, bfd-profile: fast}\n"
    "- {peer-address: 2001:db8::1, peer-asn: 64512, my-asn: 64513, bfd-profile: fast,"
    " ebgp-multihop: true}\n"
    "- {peer-address: 192.0.2.2, peer-asn: 64512, my-asn: 64513}\n"
)
PEERS = {p.peer_address: p for p in CONFIG.peers}
NODE = ["192.0.2.11", "2001:db8::11"]
BGP = {a: PeerSpec.from_peer(p, NODE) for a, p in PEERS.items()}


def test_every_peer_with_a_profile_gets_a_session_from_its_bgp_local_address():
    specs, problems = bfd_sessions(CONFIG, PEERS, BGP)
    assert problems == []
    assert specs == [
        SessionSpec(peer="192.0.2.1", local="192.0.2.11", transmit_interval=60,
                    receive_interval=50, detect_multiplier=4, passive=True),
        SessionSpec(peer="2001:db8::1", local="2001:db8::11", multihop=True,
                    transmit_interval=60, receive_interval=50, detect_multiplier=4,
                    passive=True),
    ]


def test_a_peer_without_a_bgp_session_gets_no_bfd_session():
    specs, _ = bfd_sessions(CONFIG, PEERS, {"192.0.2.2": BGP["192.0.2.2"]})
    assert specs == []


def test_no_config_means_no_sessions():
    assert bfd_sessions(None, PEERS, BGP) == ([], [])


def session(state: str, old: str | None) -> BfdEvent:
    return BfdEvent("session", {"peer": "192.0.2.1", "multihop": False, "state": state,
                                "old": old, "diag": "none"})


def test_only_up_to_down_is_a_failure():
    assert is_failure(session("down", "up"))
    # Our own AdminDown (session removed, process stopping) and the way up are not.
    assert not is_failure(session("admin_down", "up"))
    assert not is_failure(session("down", None))
    assert not is_failure(session("down", "init"))
    assert not is_failure(session("up", "init"))
    assert not is_failure(BfdEvent("exited", {"returncode": 1}))
