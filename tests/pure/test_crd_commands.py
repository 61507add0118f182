"""`config check`, `plan` and `config convert` with metallb.io objects: the same exit
codes as the legacy format, errors naming object and field, and converted objects that
plan exactly like the legacy config they came from."""

from __future__ import annotations

import io
import json
import sys
import textwrap
from dataclasses import replace

import pytest
import yaml

from metallb.allocator.dry_run import plan_allocations
from metallb.cli import main
from metallb.commands.plan import load_inputs
from metallb.config.crds import parse_crds
from metallb.config.crds.convert import convert_config
from metallb.config.parse import parse_config_text
from tests.pure.test_plan import (
    BARE_CONFIG,
    EXAMPLE_CONFIG,
    EXAMPLE_SERVICES,
    FAILING_SERVICES,
    LIST_SERVICES,
)

CRDS = textwrap.dedent("""\
    apiVersion: metallb.io/v1beta1
    kind: IPAddressPool
    metadata: {name: web, namespace: metallb-system}
    spec:
      addresses: [198.51.100.0/30]
      serviceAllocation: {priority: 10, namespaces: [web]}
    ---
    apiVersion: metallb.io/v1beta1
    kind: IPAddressPool
    metadata: {name: general, namespace: metallb-system}
    spec: {addresses: [203.0.113.0/30]}
    ---
    apiVersion: metallb.io/v1beta2
    kind: BGPPeer
    metadata: {name: peer1, namespace: metallb-system}
    spec: {myASN: 64500, peerASN: 64501, peerAddress: 192.0.2.1, holdTime: 30s}
    ---
    apiVersion: metallb.io/v1beta1
    kind: BGPAdvertisement
    metadata: {name: all, namespace: metallb-system}
    spec: {}
    """)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- config check -------------------------------------------------------------------------


# rule K7
def test_check_accepts_a_multi_document_crd_file(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(CRDS)
    code, out, err = cli(capsys, "config", "check", str(tmp_path / "c.yaml"))
    assert code == 0, err
    assert "  2 pools, 1 peer, 0 autodiscovery rules" in out
    assert "pool web: bgp, 4 addresses: 198.51.100.0/30 (priority 10, namespaces: web)" in out
    assert "peer 192.0.2.1 (peer1) port 179: peer-asn 64501, my-asn 64500 (eBGP), " \
           "hold-time 30s" in out
    assert "pools are tried in the order web, general (serviceAllocation priority" in out


def test_check_accepts_a_list_and_a_directory(tmp_path, capsys):
    items = [d for d in yaml.safe_load_all(CRDS)]
    (tmp_path / "list.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                                                        "items": items}))
    assert cli(capsys, "config", "check", str(tmp_path / "list.yaml"))[0] == 0
    directory = tmp_path / "dir"
    directory.mkdir()
    for i, item in enumerate(items):
        (directory / f"{i}.yaml").write_text(yaml.safe_dump(item))
    (directory / "README.md").write_text("not read")
    code, out, err = cli(capsys, "config", "check", str(directory))
    assert code == 0, err
    assert "2 pools, 1 peer" in out


# rules K5 and K7
def test_check_names_object_and_field_and_exits_1(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(CRDS.replace("holdTime: 30s", "holdTime: 1s"))
    code, _out, err = cli(capsys, "config", "check", str(tmp_path / "c.yaml"))
    assert code == 1
    assert f"{tmp_path / 'c.yaml'}: BGPPeer/peer1: spec.holdTime: must be 0 (no " \
           "keepalives) or at least 3s (BGP rule) (value: '1s')" in err
    assert "1 error(s); config is invalid" in err


def test_check_in_a_directory_names_the_file_of_a_nameless_object(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text(CRDS)
    (tmp_path / "b.yaml").write_text("apiVersion: metallb.io/v1beta1\nkind: Community\n"
                                     "metadata: {}\n")
    code, _out, err = cli(capsys, "config", "check", str(tmp_path))
    assert code == 1
    assert f"{tmp_path / 'b.yaml'}: document 1 (Community): metadata.name" in err


def test_check_reads_crds_from_stdin_and_unreadable_yaml_exits_2(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(CRDS.encode())))
    assert cli(capsys, "config", "check", "-")[0] == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(CRDS.encode() + b"\n: [")))
    assert cli(capsys, "config", "check", "-")[0] == 2


def test_check_says_l2_is_not_announced(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(CRDS + "---\napiVersion: metallb.io/v1beta1\n"
                                     "kind: L2Advertisement\nmetadata: {name: l2}\n")
    code, _out, err = cli(capsys, "config", "check", str(tmp_path / "c.yaml"))
    assert code == 0
    assert "warning: L2Advertisement/l2: is valid but not announced" in err


# --- plan --------------------------------------------------------------------------------


# rule K7
def test_plan_takes_crd_config(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(CRDS)
    (tmp_path / "s.yaml").write_text(
        "kind: Service\nmetadata: {name: a}\nspec: {type: LoadBalancer}\n")
    code, out, err = cli(capsys, "plan", "--config", str(tmp_path / "c.yaml"),
                         "--services", str(tmp_path / "s.yaml"))
    assert code == 0, err
    assert set(json.loads(out)["pools"]) == {"web", "general"}


def test_plan_reads_namespace_labels_from_the_services_input(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: web, labels: {team: blue}}\n---\n"
        "kind: Service\nmetadata: {name: a, namespace: web}\nspec: {type: LoadBalancer}\n")
    services, namespaces = load_inputs(str(tmp_path / "s.yaml"))
    assert [s["metadata"]["name"] for s in services] == ["a"]
    assert namespaces == {"web": {"team": "blue"}}


# --- convert -----------------------------------------------------------------------------

LEGACY = textwrap.dedent("""\
    peers:
    - {peer-address: 192.0.2.1, peer-asn: 64501, my-asn: 64500, hold-time: 30s,
       node-selectors: [{match-labels: {rack: r1}}], password: s3cret}
    bgp-communities: {no-export: "65535:65281"}
    address-pools:
    - name: Zeta_Pool
      protocol: bgp
      addresses: [198.51.100.0/30]
      bgp-advertisements:
      - {aggregation-length: 30, communities: [no-export]}
      - {localpref: 100}
    - {name: alpha, protocol: bgp, addresses: [203.0.113.0/30], avoid-buggy-ips: true}
    - {name: manual, protocol: bgp, addresses: [203.0.113.8/30], auto-assign: false}
    - {name: l2, protocol: layer2, addresses: [203.0.113.16/30]}
    """)


def converted(text: str) -> list[dict]:
    return list(convert_config(parse_config_text(text), "metallb-system").objects)


# rule K8
def test_convert_prints_objects_renames_and_warns_about_annotations(tmp_path, capsys):
    (tmp_path / "legacy.yaml").write_text(LEGACY)
    (tmp_path / "s.yaml").write_text(
        "kind: Service\nmetadata: {name: a, namespace: shop, annotations: "
        "{metallb.universe.tf/address-pool: Zeta_Pool}}\nspec: {type: LoadBalancer}\n")
    code, out, err = cli(capsys, "config", "convert", str(tmp_path / "legacy.yaml"),
                         "--namespace", "lb", "--services", str(tmp_path / "s.yaml"))
    assert code == 0, err
    assert "#   Zeta_Pool -> zeta-pool\n" in out
    assert "warning: Service shop/a: annotation metallb.universe.tf/address-pool names " \
           "pool 'Zeta_Pool', now 'zeta-pool'" in err
    objects = [d for d in yaml.safe_load_all(out) if d]
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == {
        ("Community", "communities"), ("BGPPeer", "peer-192.0.2.1"),
        ("IPAddressPool", "zeta-pool"), ("IPAddressPool", "alpha"),
        ("IPAddressPool", "manual"), ("IPAddressPool", "l2"),
        ("BGPAdvertisement", "zeta-pool-1"), ("BGPAdvertisement", "zeta-pool-2"),
        ("BGPAdvertisement", "alpha"), ("BGPAdvertisement", "manual"),
        ("L2Advertisement", "l2")}
    assert all(o["metadata"]["namespace"] == "lb" for o in objects)
    config = parse_crds(objects)
    legacy = parse_config_text(LEGACY)
    assert [p.name for p in config.pools if p.auto_assign] == ["zeta-pool", "alpha", "l2"]
    assert config.peers == (replace(legacy.peers[0], name="peer-192.0.2.1"),)
    assert config.pool("zeta-pool").advertisements == legacy.pool("Zeta_Pool").advertisements


# rule K8
@pytest.mark.parametrize("text, expected", [
    (EXAMPLE_CONFIG.read_text(), "peer-autodiscovery: cannot be converted"),
    ("peers: [{peer-address: 192.0.2.1, peer-asn: 1, my-asn: 2, peer-port: 20000}]\n",
     "peers[0].peer-port: cannot be converted"),
    ("address-pools: [{name: p, protocol: bgp, addresses: [192.0.2.0/24], "
     "bgp-advertisements: [{localpref: 0}]}]\n",
     "address-pools[0].bgp-advertisements[0].localpref: cannot be converted"),
], ids=["autodiscovery", "port", "localpref-0"])
def test_convert_refuses_what_the_crds_cannot_say(tmp_path, capsys, text, expected):
    (tmp_path / "legacy.yaml").write_text(text)
    code, out, err = cli(capsys, "config", "convert", str(tmp_path / "legacy.yaml"))
    assert (code, out) == (1, "")
    assert expected in err
    assert "nothing converted" in err


def test_convert_invalid_and_unreadable_exit_codes(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("address-pools: [{name: p}]\n")
    assert cli(capsys, "config", "convert", str(tmp_path / "bad.yaml"))[0] == 1
    (tmp_path / "broken.yaml").write_text("a: [\n")
    assert cli(capsys, "config", "convert", str(tmp_path / "broken.yaml"))[0] == 2
    assert cli(capsys, "config", "convert", str(tmp_path / "missing.yaml"))[0] == 2


# --- converted objects plan like the legacy config ---------------------------------------

ORDER_CONFIG = textwrap.dedent("""\
    address-pools:
    - {name: zz, protocol: bgp, addresses: [198.51.100.0/31]}
    - {name: mm, protocol: bgp, addresses: [198.51.100.8/31], auto-assign: false}
    - {name: aa, protocol: bgp, addresses: [203.0.113.0/30, "2001:db8::/126"]}
    """)
MANY_SERVICES = "\n---\n".join(
    f"kind: Service\nmetadata: {{name: s{i}, namespace: ns{i % 3}}}\n"
    f"spec: {{type: LoadBalancer{', ipFamilies: [IPv6]' if i % 4 == 3 else ''}}}"
    for i in range(9)) + (
    "\n---\nkind: Service\nmetadata: {name: pinned, annotations: "
    "{metallb.universe.tf/address-pool: mm}}\nspec: {type: LoadBalancer}\n"
    "---\nkind: Service\nmetadata: {name: kept}\nspec: {type: LoadBalancer}\n"
    "status: {loadBalancer: {ingress: [{ip: 203.0.113.3}]}}\n")
PLAN_CASES = {
    "examples": (EXAMPLE_CONFIG.read_text(), EXAMPLE_SERVICES.read_text()),
    "bare-with-examples": (BARE_CONFIG, EXAMPLE_SERVICES.read_text()),
    "bare-many": (BARE_CONFIG, MANY_SERVICES),
    "bare-list": (BARE_CONFIG, LIST_SERVICES),
    "bare-failing": (BARE_CONFIG, FAILING_SERVICES),
    "order-kept": (ORDER_CONFIG, MANY_SERVICES),
    "convert-sample": (LEGACY, MANY_SERVICES),
}


# rule K8
@pytest.mark.parametrize("case", PLAN_CASES)
def test_converted_objects_plan_the_same_addresses(case, tmp_path):
    config_text, services_text = PLAN_CASES[case]
    legacy = parse_config_text(config_text)
    # Autodiscovery (examples/) has no CRD form and no say in allocation.
    conversion = convert_config(replace(legacy, peer_autodiscovery=None), "metallb-system")
    (tmp_path / "s.yaml").write_text(services_text)
    services, _namespaces = load_inputs(str(tmp_path / "s.yaml"))
    renames = dict(conversion.pool_renames)
    expected = plan_allocations(legacy, services)
    got = plan_allocations(parse_crds(list(conversion.objects)), services)
    for result in expected["services"].values():
        if result["pool"] is not None:
            result["pool"] = renames.get(result["pool"], result["pool"])
    expected["pools"] = {renames.get(k, k): v for k, v in expected["pools"].items()}
    assert got == expected


def test_convert_refuses_two_localprefs_for_the_same_update(tmp_path, capsys):
    (tmp_path / "legacy.yaml").write_text(
        "address-pools: [{name: p, protocol: bgp, addresses: [192.0.2.0/28], "
        "bgp-advertisements: [{}, {localpref: 100}]}]\n")
    code, _out, err = cli(capsys, "config", "convert", str(tmp_path / "legacy.yaml"))
    assert code == 1
    assert "address-pools[0].bgp-advertisements[1].localpref: cannot be converted" in err


def test_convert_keeps_bfd_profiles_and_the_peers_that_name_them():
    legacy = parse_config_text(textwrap.dedent("""\
        bfd-profiles:
        - {name: Fast_1, receive-interval: 100, transmit-interval: 50, passive-mode: true}
        - {name: plain}
        peers:
        - {peer-address: 192.0.2.1, peer-asn: 64512, my-asn: 64513, bfd-profile: Fast_1}
        - {peer-address: 192.0.2.2, peer-asn: 64512, my-asn: 64513}
        """))
    objects = list(convert_config(legacy, "metallb-system").objects)
    profiles = [(o["metadata"]["name"], o["spec"]) for o in objects if o["kind"] == "BFDProfile"]
    assert profiles == [("fast-1", {"receiveInterval": 100, "transmitInterval": 50,
                                    "passiveMode": True}), ("plain", {})]
    peers = [o["spec"].get("bfdProfile") for o in objects if o["kind"] == "BGPPeer"]
    assert peers == ["fast-1", None]
    back = parse_crds(objects, read_passwords=False)
    assert [p.bfd_profile for p in back.peers] == ["fast-1", None]
    assert back.bfd_profile("fast-1").effective_transmit_interval == 50
