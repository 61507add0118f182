"""Every attribute of the component block: its type, its default, and its errors."""

from __future__ import annotations

import pytest

from metallb.component.settings import (
    DEFAULT_IMAGE,
    ComponentSettings,
    StaticPeer,
    Toleration,
    legacy_config_document,
)
from metallb.config.errors import ConfigError
from metallb.config.parse import parse_config
from tests.support.component import SEED_BLOCK, block, settings_of


def _issues(tmp_path, text) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings_of(tmp_path, text)
    return [str(issue) for issue in info.value.issues]


def test_seed_example(tmp_path):
    settings = settings_of(tmp_path, SEED_BLOCK)
    assert settings == ComponentSettings(
        address_pools=(("pool1", ("198.51.100.20/32",)),
                       ("pool2", ("203.0.113.16/29", "203.0.113.24/29"))),
        controller_node_selectors=(("kubernetes.io/hostname", "worker3"),),
        speaker_node_selectors=(("ingress_node", "true"), ("node-role.kubernetes.io/node", "")),
        controller_tolerations=(Toleration("controller_key1", "Equal", "value1"),),
        speaker_tolerations=(Toleration("speaker_key1", "Equal", "value1"),),
        service_monitor=True,
        config_format="configmap",  # packet_peer_autodiscovery needs the ConfigMap
    )


def test_defaults(tmp_path):
    settings = settings_of(tmp_path, block())
    assert settings.service_monitor is False
    assert settings.controller_image == settings.speaker_image == DEFAULT_IMAGE
    assert settings.log_level == "info"
    assert settings.peers == ()
    assert settings.packet_peer_autodiscovery is True
    assert settings.controller_tolerations == settings.speaker_tolerations == ()


def test_pools_are_sorted_by_name(tmp_path):
    text = block('address_pools = { zeta = ["203.0.113.0/28"], alpha = ["198.51.100.0/28"] }',
                 pools=False)
    assert [name for name, _ in settings_of(tmp_path, text).address_pools] == ["alpha", "zeta"]


def test_legacy_document_from_seed(tmp_path):
    document = legacy_config_document(settings_of(tmp_path, SEED_BLOCK))
    assert document == {
        "peer-autodiscovery": {"from-annotations": [{
            "my-asn": f"metal.equinix.com/{numbered}node-asn",
            "peer-asn": f"metal.equinix.com/{numbered}peer-asn",
            "peer-address": f"metal.equinix.com/{numbered}peer-ip",
            "source-address": f"metal.equinix.com/{numbered}src-ip",
            "password-base64": f"metal.equinix.com/{numbered}bgp-pass",
        } for numbered in ("", "bgp-peers-{N}-")]},  # rule D5
        "address-pools": [
            {"name": "pool1", "protocol": "bgp", "addresses": ["198.51.100.20/32"]},
            {"name": "pool2", "protocol": "bgp",
             "addresses": ["203.0.113.16/29", "203.0.113.24/29"]},
        ],
    }
    config = parse_config(document)  # what the daemons will read
    assert [p.name for p in config.pools] == ["pool1", "pool2"]
    assert config.peer_autodiscovery is not None


def test_toleration_all_fields(tmp_path):
    text = block('speaker_toleration {\n key = "k"\n operator = "Exists"\n effect = "NoExecute"\n'
                 ' toleration_seconds = "60"\n }')
    (toleration,) = settings_of(tmp_path, text).speaker_tolerations
    assert toleration == Toleration("k", "Exists", "", "NoExecute", 60)
    assert toleration.to_kubernetes() == {"key": "k", "operator": "Exists",
                                          "effect": "NoExecute", "tolerationSeconds": 60}


def test_repeated_toleration_blocks_keep_order(tmp_path):
    text = block('controller_toleration {\n key = "a"\n value = "1"\n }',
                 'controller_toleration {\n key = "b"\n operator = "Exists"\n'
                 ' effect = "NoSchedule"\n }')
    assert [t.key for t in settings_of(tmp_path, text).controller_tolerations] == ["a", "b"]


def test_optional_attributes(tmp_path):
    text = block('controller_image = "registry.test/c:1"', 'speaker_image = "registry.test/s:1"',
                 'log_level = "debug"', "packet_peer_autodiscovery = false",
                 'peer {\n peer_address = "192.0.2.1"\n peer_asn = 64512\n my_asn = 64513\n'
                 ' hold_time = "30s"\n node_selectors = { rack = "r1" }\n }')
    settings = settings_of(tmp_path, text)
    assert (settings.controller_image, settings.speaker_image, settings.log_level) == (
        "registry.test/c:1", "registry.test/s:1", "debug")
    assert settings.peers == (StaticPeer("192.0.2.1", 64512, 64513, hold_time="30s",
                                         node_selectors=(("rack", "r1"),)),)
    document = legacy_config_document(settings)
    assert "peer-autodiscovery" not in document
    assert document["peers"] == [{"peer-address": "192.0.2.1", "peer-asn": 64512,
                                  "my-asn": 64513, "hold-time": "30s",
                                  "node-selectors": [{"match-labels": {"rack": "r1"}}]}]
    parse_config(document)


@pytest.mark.parametrize(
    ("lines", "pools", "expected"),
    [
        ((), False, "address_pools: is required"),
        (('address_pools = ["198.51.100.0/24"]',), False,
         "address_pools: wrong type: expected map(list(string)), got list"),
        (("address_pools = {}",), False, "address_pools: must name at least one pool"),
        (('address_pools = { p = "198.51.100.0/24" }',), False,
         "address_pools.p: wrong type: expected list(string), got string"),
        (("address_pools = { p = [] }",), False, "address_pools.p: needs at least one CIDR"),
        (("address_pools = { p = [24] }",), False,
         "address_pools.p[0]: wrong type: expected string, got number"),
        (('address_pools = { p = ["198.51.100.0/33"] }',), False,
         "address_pools.p[0]: is not a valid CIDR (value: '198.51.100.0/33')"),
        # The daemons accept it with a warning (as MetalLB masks it); the component,
        # writing a new config, refuses it.
        (('address_pools = { p = ["198.51.100.7/24"] }',), False,
         "address_pools.p[0]: has host bits set; read as 198.51.100.0/24"),
        (('address_pools = { a = ["198.51.100.0/24"], b = ["203.0.113.0/24", '
          '"198.51.100.8/29"] }',), False,
         "address_pools.b[1]: overlaps address_pools.a[0]"),
        (("service_monitor = \"yes\"",), True,
         "service_monitor: wrong type: expected bool, got string"),
        (('speaker_node_selectors = ["a"]',), True,
         "speaker_node_selectors: wrong type: expected map(string), got list"),
        (("controller_node_selectors = { ingress = true }",), True,
         'controller_node_selectors["ingress"]: wrong type: expected string, got bool; '
         'write it in quotes: "true"'),
        (('unknown_thing = "x"',), True, "unknown_thing: unknown attribute"),
        (('speaker_toleration {\n key = "k"\n operator = "Maybe"\n }',), True,
         "speaker_toleration[0].operator: must be Equal or Exists (value: 'Maybe')"),
        (('speaker_toleration {\n key = "k"\n value = "v"\n effect = "NoRun"\n }',), True,
         "speaker_toleration[0].effect: must be a taint effect"),
        (('controller_toleration {\n key = "k"\n operator = "Exists"\n'
          ' toleration_seconds = 5\n effect = "NoSchedule"\n }',), True,
         'controller_toleration[0].toleration_seconds: only applies with effect = "NoExecute"'),
        (('controller_toleration {\n key = "k"\n operator = "Exists"\n effect = "NoExecute"\n'
          ' toleration_seconds = "soon"\n }',), True,
         "controller_toleration[0].toleration_seconds: wrong type: expected whole number"),
        (('controller_toleration {\n key = "k"\n operator = "Exists"\n effect = "NoExecute"\n'
          ' toleration_seconds = -1\n }',), True,
         "controller_toleration[0].toleration_seconds: must not be negative"),
        (('speaker_toleration {\n key = "k"\n operator = "Exists"\n value = "v"\n }',), True,
         'speaker_toleration[0].value: must be empty with operator = "Exists"'),
        (('speaker_toleration {\n value = "v"\n }',), True,
         'speaker_toleration[0].key: is required unless operator = "Exists"'),
        (('speaker_toleration {\n key = "k"\n colour = "v"\n }',), True,
         "speaker_toleration[0].colour: unknown attribute"),
        (('speaker_toleration = "k"',), True,
         "speaker_toleration: wrong type: expected one or more speaker_toleration"),
        (('log_level = "loud"',), True, "log_level: must be one of debug, info"),
        (('controller_image = ""',), True, "controller_image: must not be empty"),
        (('peer {\n peer_address = "192.0.2.1"\n }',), True, "peer[0].peer_asn: is required"),
        (('peer {\n peer_address = "192.0.2.1"\n peer_asn = "x"\n my_asn = 1\n }',), True,
         "peer[0].peer_asn: wrong type: expected whole number"),
        (('peer {\n peer_address = "not-an-ip"\n peer_asn = 1\n my_asn = 2\n }',), True,
         "peer[0].peer_address: is not an IP address"),
    ],
)
def test_errors_name_attribute_and_value(tmp_path, lines, pools, expected):
    issues = _issues(tmp_path, block(*lines, pools=pools))
    assert any(expected in issue for issue in issues), issues


def test_all_problems_reported_at_once(tmp_path):
    issues = _issues(tmp_path, block("service_monitor = 1", 'log_level = "x"', "bogus = 1"))
    assert len(issues) == 3, issues
