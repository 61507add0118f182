"""`bfd_profile "NAME" { ... }` blocks and a peer's `bfd_profile`: rendered as upstream's
legacy `bfd-profiles` / `peers[].bfd-profile` and as `BFDProfile` objects /
`BGPPeer.spec.bfdProfile`; errors name the HCL attribute; the lab's router gets the
profile from either rendering."""

from __future__ import annotations

import pytest
import yaml

from lab.frr import BfdTimers
from lab.routers.upstream import config_of, router_bfd
from metallb.component.settings import BfdProfileBlock, legacy_config_document
from metallb.config.errors import ConfigError
from tests.support.component import block, find, objects_of, settings_of

FAST = ('bfd_profile "fast" {\n receive_interval = 100\n transmit_interval = 50\n'
        ' detect_multiplier = 4\n passive_mode = true\n minimum_ttl = 250\n'
        ' echo_mode = false\n }')
SLOW = 'bfd_profile "slow" {\n detect_multiplier = 5\n }'
PEER = ('peer {\n peer_address = "192.0.2.1"\n peer_asn = 64512\n my_asn = 64513\n'
        ' bfd_profile = "fast"\n }')


def _config(*extra: str, config_format: str = "crds") -> str:
    return block("packet_peer_autodiscovery = false", f'config_format = "{config_format}"',
                 FAST, SLOW, PEER, *extra)


def _issues(tmp_path, text) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings_of(tmp_path, text)
    return [str(issue) for issue in info.value.issues]


def test_blocks_are_read_in_order_with_the_attributes_given(tmp_path):
    settings = settings_of(tmp_path, _config())
    assert settings.bfd_profiles == (
        BfdProfileBlock("fast", (("receive_interval", 100), ("transmit_interval", 50),
                                 ("detect_multiplier", 4), ("minimum_ttl", 250),
                                 ("echo_mode", False), ("passive_mode", True))),
        BfdProfileBlock("slow", (("detect_multiplier", 5),)))
    assert settings.peers[0].bfd_profile == "fast"


def test_configmap_has_upstream_bfd_profiles_and_the_peer_names_its_profile(tmp_path):
    config_map = find(objects_of(tmp_path, _config(config_format="configmap")), "ConfigMap")
    document = yaml.safe_load(config_map["data"]["config"])
    assert document["bfd-profiles"] == [
        {"name": "fast", "receive-interval": 100, "transmit-interval": 50,
         "detect-multiplier": 4, "minimum-ttl": 250, "echo-mode": False,
         "passive-mode": True},
        {"name": "slow", "detect-multiplier": 5}]
    assert document["peers"][0]["bfd-profile"] == "fast"


def test_crds_have_bfdprofile_objects_and_the_peer_names_its_profile(tmp_path):
    objects = objects_of(tmp_path, _config())
    assert find(objects, "BFDProfile", "fast")["spec"] == {
        "receiveInterval": 100, "transmitInterval": 50, "detectMultiplier": 4,
        "minimumTtl": 250, "passiveMode": True}
    assert find(objects, "BFDProfile", "slow")["spec"] == {"detectMultiplier": 5}
    assert find(objects, "BGPPeer")["spec"]["bfdProfile"] == "fast"


def test_no_profile_renders_no_bfd(tmp_path):
    settings = settings_of(tmp_path, block(
        "packet_peer_autodiscovery = false",
        'peer {\n peer_address = "192.0.2.1"\n peer_asn = 64512\n my_asn = 64513\n }'))
    assert "bfd-profiles" not in legacy_config_document(settings)
    assert "bfd-profile" not in legacy_config_document(settings)["peers"][0]


@pytest.mark.parametrize("config_format", ["crds", "configmap"])
def test_the_lab_router_gets_the_peers_profile_from_either_format(tmp_path, config_format):
    objects = objects_of(tmp_path, _config(config_format=config_format))
    assert router_bfd(config_of(objects)) == BfdTimers(name="fast", tx=50, rx=100,
                                                       multiplier=4)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((FAST.replace("100", "5"),),
         "bfd_profile \"fast\".receive_interval: must be between 10 and 60000 (value: 5)"),
        ((FAST.replace("detect_multiplier = 4", "detect_multiplier = 1"),),
         'bfd_profile "fast".detect_multiplier: must be between 2 and 255'),
        ((FAST.replace("echo_mode = false", "echo_mode = true"),),
         'bfd_profile "fast".echo_mode: echo mode is not implemented'),
        ((FAST.replace("passive_mode = true", 'passive_mode = "yes"'),),
         'bfd_profile "fast".passive_mode: wrong type: expected bool, got string'),
        ((FAST.replace("minimum_ttl = 250", 'minimum_ttl = "250"'),),
         'bfd_profile "fast".minimum_ttl: wrong type: expected whole number'),
        ((FAST.replace("minimum_ttl", "min_ttl"),),
         'bfd_profile "fast".min_ttl: unknown attribute; known: receive_interval'),
        ((FAST, FAST), 'bfd_profile "fast": defined twice'),
        (('bfd_profile = "fast"',),
         'bfd_profile: wrong type: expected bfd_profile "NAME" { ... } blocks'),
        ((PEER.replace('"fast"', '"fastest"'),),
         "peer[0].bfd_profile: names no bfd_profile \"NAME\" block (value: 'fastest')"),
        ((PEER.replace('"fast"', "3"),),
         "peer[0].bfd_profile: wrong type: expected string, got number"),
    ],
)
def test_errors_name_the_hcl_attribute(tmp_path, lines, expected):
    issues = _issues(tmp_path, block("packet_peer_autodiscovery = false", *lines))
    assert any(expected in issue for issue in issues), issues
