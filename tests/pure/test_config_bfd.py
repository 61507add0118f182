"""`bfd-profiles[]` and `peers[].bfd-profile` as MetalLB v0.12 parses them
(internal/config/config.go: parseBFDProfile, bfdIntFromConfig; ranges as the BFDProfile
CRD documents them), with FRR's defaults where upstream sets none."""

from __future__ import annotations

import pytest

from metallb.config.model import BfdProfile
from metallb.config.summary import summarize
from tests.pure.config_text import issues_of, parse

PEER = "peer-address: 10.0.0.1, peer-asn: 65001, my-asn: 65000"


def with_profile(fields: str) -> str:
    return f"bfd-profiles: [{{name: p1{', ' + fields if fields else ''}}}]\n"


# --- accepted ----------------------------------------------------------------------------


# rule C22
def test_every_field_of_a_profile_is_read():
    config = parse(with_profile(
        "receive-interval: 50, transmit-interval: 60, detect-multiplier: 5, "
        "echo-interval: 70, echo-mode: false, passive-mode: true, minimum-ttl: 10"
    ))
    assert config.bfd_profiles == (BfdProfile(
        name="p1", receive_interval=50, transmit_interval=60, detect_multiplier=5,
        echo_interval=70, echo_mode=False, passive_mode=True, minimum_ttl=10,
    ),)


def test_a_profile_with_only_a_name_runs_with_frr_defaults():
    (profile,) = parse(with_profile("")).bfd_profiles
    assert profile == BfdProfile(name="p1")
    assert (profile.effective_receive_interval, profile.effective_transmit_interval,
            profile.effective_detect_multiplier, profile.effective_minimum_ttl) == (
        300, 300, 3, 254)


def test_a_peer_names_its_profile():
    config = parse(with_profile("") + f"peers: [{{{PEER}, bfd-profile: p1}}]\n")
    assert config.peers[0].bfd_profile == "p1"
    assert config.bfd_profile("p1") == BfdProfile(name="p1")


def test_a_peer_without_profile_has_none():
    assert parse(f"peers: [{{{PEER}}}]\n").peers[0].bfd_profile is None


# rule C20
def test_empty_bfd_profile_reads_as_not_given_with_a_warning():
    config = parse(f"peers: [{{{PEER}, bfd-profile: ''}}]\n")
    assert config.peers[0].bfd_profile is None
    assert [w.path for w in config.warnings] == ["peers[0].bfd-profile"]


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [("receive-interval", 10, 60000), ("transmit-interval", 10, 60000),
     ("detect-multiplier", 2, 255), ("echo-interval", 10, 60000), ("minimum-ttl", 1, 254)],
)
def test_range_edges_are_accepted(field, low, high):
    for value in (low, high):
        parse(with_profile(f"{field}: {value}"))


# --- refused -----------------------------------------------------------------------------


# rule C22
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("receive-interval", 9, "must be between 10 and 60000"),
        ("transmit-interval", 60001, "must be between 10 and 60000"),
        ("detect-multiplier", 1, "must be between 2 and 255"),
        ("detect-multiplier", 256, "must be between 2 and 255"),
        ("echo-interval", 0, "must be between 10 and 60000"),
        ("minimum-ttl", 255, "must be between 1 and 254"),
        ("minimum-ttl", 0, "must be between 1 and 254"),
        ("receive-interval", "'300'", "must be an integer, not string (remove the quotes)"),
        ("passive-mode", "'yes'", "must be a boolean (true or false), not string"),
    ],
)
def test_out_of_range_or_mistyped_fields_are_refused_with_the_path(field, value, message):
    (line,) = issues_of(with_profile(f"{field}: {value}"))
    assert line.startswith(f"bfd-profiles[0].{field}: {message}")


def test_a_profile_needs_a_name():
    assert issues_of("bfd-profiles: [{receive-interval: 100}]\n") == [
        "bfd-profiles[0].name: required key is missing"]
    assert issues_of("bfd-profiles: [{name: ''}]\n") == [
        "bfd-profiles[0].name: required key is missing"]


def test_duplicate_profile_names_are_refused():
    assert issues_of("bfd-profiles: [{name: a}, {name: a, detect-multiplier: 4}]\n") == [
        "bfd-profiles[1].name: duplicate bfd profile name (first at bfd-profiles[0]) "
        "(value: 'a')"]


# rule C22
def test_a_peer_naming_a_missing_profile_is_refused():
    assert issues_of(with_profile("") + f"peers: [{{{PEER}, bfd-profile: nope}}]\n") == [
        "peers[0].bfd-profile: names no entry of bfd-profiles (value: 'nope')"]


def test_unknown_profile_keys_are_refused():
    (line,) = issues_of(with_profile("recieve-interval: 100"))
    assert line.startswith("bfd-profiles[0].recieve-interval: unknown key")


# rule C22
def test_echo_mode_is_refused_not_ignored():
    (line,) = issues_of(with_profile("echo-mode: true"))
    assert line.startswith("bfd-profiles[0].echo-mode: echo mode is not implemented")


def test_config_check_summary_shows_profiles_with_effective_timers_and_the_peer_link():
    lines = summarize(parse(
        "bfd-profiles: [{name: fast, receive-interval: 50, transmit-interval: 50, "
        "passive-mode: true}, {name: plain}]\n"
        f"peers: [{{{PEER}, bfd-profile: fast}}]\n"
    ))
    assert "bfd-profile fast" in lines[1]
    assert lines[2:] == [
        "bfd-profile fast: transmit 50ms, receive 50ms, multiplier 3 "
        "(down after 150ms of silence), passive",
        "bfd-profile plain: transmit 300ms, receive 300ms, multiplier 3 "
        "(down after 900ms of silence)",
    ]


# rules C22 and C23
def test_a_peer_with_a_profile_is_accepted_without_a_warning():
    """The speaker runs the session (speaker/bfd_wiring.py): nothing to warn about."""
    config = parse(with_profile("") + f"peers: [{{{PEER}, bfd-profile: p1}}]\n")
    assert config.peers[0].bfd_profile == "p1"
    assert config.warnings == ()
