"""`config_format`: the config as metallb.io objects (the default where they can say
it) or the legacy ConfigMap; the CustomResourceDefinitions, always rendered, carry
upstream's schemas, defaults, enums and printer columns."""

from __future__ import annotations

import pytest

from metallb.component.render import crd_objects
from metallb.config import ConfigError
from metallb.config.crds import parse_crds
from metallb.config.parse import parse_config_text
from tests.support.component import SEED_BLOCK, block, find, objects_of, settings_of

NO_AUTODISCOVERY = "packet_peer_autodiscovery = false"
PEER = 'peer {\n peer_address = "192.0.2.1"\n peer_asn = 64512\n my_asn = 64513\n }'
METALLB_IO = ("IPAddressPool", "BGPPeer", "BGPAdvertisement", "Community", "L2Advertisement")


def _kinds(objects: list[dict]) -> set[str]:
    return {o["kind"] for o in objects}


# rule K9
def test_crds_are_the_default_when_they_can_say_the_config(tmp_path):
    objects = objects_of(tmp_path, block(NO_AUTODISCOVERY, PEER))
    assert "ConfigMap" not in _kinds(objects)
    config = parse_crds([o for o in objects if o["kind"] in METALLB_IO],
                        namespace="metallb-system")
    assert [(p.name, [r.source for r in p.ranges]) for p in config.pools] == [
        ("pool1", ["198.51.100.20/32"])]
    assert [(p.peer_address, p.peer_asn, p.my_asn) for p in config.peers] == [
        ("192.0.2.1", 64512, 64513)]
    for obj in objects:
        if obj["kind"] in METALLB_IO:
            assert obj["metadata"]["labels"]["app.kubernetes.io/component"] == "config"


# rules K9 and D5
def test_packet_autodiscovery_keeps_the_configmap_by_default(tmp_path):
    assert settings_of(tmp_path, SEED_BLOCK).config_format == "configmap"
    objects = objects_of(tmp_path, SEED_BLOCK)
    find(objects, "ConfigMap", "metallb")
    assert not _kinds(objects) & set(METALLB_IO)


def test_configmap_format_on_request(tmp_path):
    objects = objects_of(tmp_path, block(NO_AUTODISCOVERY, 'config_format = "configmap"'))
    config = parse_config_text(find(objects, "ConfigMap", "metallb")["data"]["config"])
    assert [p.name for p in config.pools] == ["pool1"]
    assert not _kinds(objects) & set(METALLB_IO)


@pytest.mark.parametrize("lines, expected", [
    (('config_format = "crds"',), "config_format: cannot be \"crds\" with "
     "packet_peer_autodiscovery = true"),
    ((NO_AUTODISCOVERY, 'config_format = "yaml"'), "config_format: must be one of crds, "
     "configmap"),
    ((NO_AUTODISCOVERY, 'address_pools = { Pool_A = ["198.51.100.0/28"] }'),
     "address_pools.Pool_A: is not a valid IPAddressPool name"),
], ids=["autodiscovery", "unknown", "pool-name"])
def test_config_format_errors(tmp_path, lines, expected):
    pools = not any(line.startswith("address_pools") for line in lines)
    with pytest.raises(ConfigError) as info:
        settings_of(tmp_path, block(*lines, pools=pools))
    assert any(str(i).startswith(expected) for i in info.value.issues), str(info.value)


# rule K9
def test_crds_are_rendered_in_both_formats(tmp_path):
    for text in (SEED_BLOCK, block(NO_AUTODISCOVERY)):
        crds = [o for o in objects_of(tmp_path, text) if o["kind"] == "CustomResourceDefinition"]
        assert [c["spec"]["names"]["kind"] for c in crds] == [
            "IPAddressPool", "BGPPeer", "BGPAdvertisement", "Community", "BFDProfile",
            "L2Advertisement", "ServiceBGPStatus", "ConfigurationState", "BGPSessionState"]


@pytest.mark.parametrize("kind, columns", [
    ("ConfigurationState", ["Result", "ErrorSummary", "Age"]),  # as upstream
    ("ServiceBGPStatus", ["Node", "Service Name", "Service Namespace"]),  # as upstream
    ("BGPSessionState", ["Node", "Peer", "State", "Age"]),
])
def test_status_kinds_have_printer_columns_and_the_status_subresource(kind, columns):
    version = _version(kind, "v1beta1")
    assert [c["name"] for c in version["additionalPrinterColumns"]] == columns
    assert version["subresources"] == {"status": {}}


def _version(kind: str, version: str) -> dict:
    (crd,) = [c for c in crd_objects() if c["spec"]["names"]["kind"] == kind]
    assert crd["spec"]["group"] == "metallb.io" and crd["spec"]["scope"] == "Namespaced"
    (found,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return found


def _spec_properties(kind: str, version: str) -> dict:
    return _version(kind, version)["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"]


def test_crds_carry_upstream_defaults_enums_and_columns():
    peer = _spec_properties("BGPPeer", "v1beta2")
    assert peer["peerPort"]["default"] == 179
    assert peer["peerPort"]["maximum"] == 16384
    assert peer["dynamicASN"]["enum"] == ["internal", "external"]
    assert _version("BGPPeer", "v1beta2")["storage"] is True
    assert _version("BGPPeer", "v1beta1")["served"] is True
    assert _version("BGPPeer", "v1beta1")["storage"] is False
    pool = _spec_properties("IPAddressPool", "v1beta1")
    assert (pool["autoAssign"]["default"], pool["avoidBuggyIPs"]["default"]) == (True, False)
    adv = _spec_properties("BGPAdvertisement", "v1beta1")
    assert (adv["aggregationLength"]["default"], adv["aggregationLength"]["minimum"],
            adv["aggregationLengthV6"]["default"]) == (32, 1, 128)
    assert [c["name"] for c in _version("IPAddressPool", "v1beta1")[
        "additionalPrinterColumns"]] == ["Auto Assign", "Avoid Buggy IPs", "Addresses",
                                         "Assigned IPv4", "Available IPv4", "Assigned IPv6",
                                         "Available IPv6"]  # usage: ours
    assert [c["name"] for c in _version("BGPPeer", "v1beta2")["additionalPrinterColumns"]] == [
        "Address", "ASN", "BFD Profile", "Multi Hops"]


def test_the_parser_takes_every_field_the_crds_define():
    """Each spec field of the served schemas is read (or refused by name): none is
    unknown to the parser."""
    from metallb.config.crds import advertisements, peers, pools

    known = {
        ("IPAddressPool", "v1beta1"): set(pools.POOL_KEYS),
        ("BGPPeer", "v1beta1"): set(peers.V1BETA1_PEER_KEYS),
        ("BGPPeer", "v1beta2"): set(peers.V1BETA2_PEER_KEYS) | set(peers.UNSUPPORTED_PEER_FIELDS),
        ("BGPAdvertisement", "v1beta1"): set(advertisements.BGP_ADV_KEYS),
        ("L2Advertisement", "v1beta1"): set(advertisements.L2_ADV_KEYS),
        ("BFDProfile", "v1beta1"): set(peers.BFD_KEYS) | {"echoMode", "passiveMode"},
        ("Community", "v1beta1"): {"communities"},
    }
    for (kind, version), fields in known.items():
        assert set(_spec_properties(kind, version)) == fields, kind
    allocation = _spec_properties("IPAddressPool", "v1beta1")["serviceAllocation"]
    assert set(allocation["properties"]) == set(pools.ALLOCATION_KEYS)
