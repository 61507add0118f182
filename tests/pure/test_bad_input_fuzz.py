"""Fuzz what users and clusters feed the daemons, beyond the config parser's and the
Service intent's own fuzz tests (tests/unit): the HCL component config, and the Node
annotations peer autodiscovery reads. Never an unhandled exception; every problem comes
back as an issue naming where it is."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metallb.component.render import load_settings, render_objects
from metallb.component.settings import PACKET_AUTODISCOVERY
from metallb.config import ConfigError, parse_config
from speaker.planner import NodeInfo, plan

ATTRIBUTES = ["address_pools", "controller_node_selectors", "speaker_node_selectors",
              "service_monitor", "controller_image", "speaker_image", "log_level",
              "packet_peer_autodiscovery", "peer_address", "peer_asn", "my_asn",
              "password", "hold_time", "node_selectors", "bogus"]
WORDS = ["198.51.100.0/24", "203.0.113.1-203.0.113.9", "2001:db8::/64", "-1", "64512",
         "4294967296", "90s", "x", "", "${var.x}", "true", "info", "key\"quote", "\\n"]


def _hcl_value(depth: int = 2) -> st.SearchStrategy[str]:
    scalar = st.one_of(
        st.sampled_from(WORDS).map(lambda w: '"' + w.replace('"', '\\"') + '"'),
        st.integers(-2**40, 2**40).map(str), st.sampled_from(["true", "false", "null"]),
        st.text(alphabet='abc{}[]=",.$\\ \n#', max_size=12))
    if depth == 0:
        return scalar
    inner = _hcl_value(depth - 1)
    return st.one_of(
        scalar,
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.dictionaries(st.sampled_from(["pool1", "a b", '"k.io/x"', "1", "key"]), inner,
                        max_size=3).map(
            lambda d: "{\n" + "".join(f"  {k} = {v}\n" for k, v in d.items()) + "}"))


BODIES = st.lists(st.tuples(st.sampled_from(ATTRIBUTES), _hcl_value()), max_size=6).map(
    lambda attrs: "".join(f"  {k} = {v}\n" for k, v in attrs))
BLOCKS = st.one_of(
    BODIES.map(lambda b: 'component "metallb" {\n' + b + "}\n"),
    BODIES.map(lambda b: 'component "metallb" {\n' + b + '  peer {\n' + b + "  }\n}\n"),
    st.text(max_size=80))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BLOCKS)
def test_component_config_only_raises_config_error(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metallb.lokocfg"
        path.write_text(text)
        try:
            component = load_settings(path)
        except ConfigError as err:
            assert err.issues, "a ConfigError without any issue"
            for issue in err.issues:
                assert str(issue).strip(), "an empty issue"
            return
        render_objects(component)  # a valid block renders


SECRET = "Pw-Sentinel-7x"
NUMBERED = {field: f"metal.equinix.com/bgp-peers-{{N}}-{key}" for field, key in (
    ("my-asn", "node-asn"), ("peer-asn", "peer-asn"), ("peer-address", "peer-ip"),
    ("source-address", "src-ip"), ("password", "bgp-pass"))}
CONFIG = parse_config({
    "peer-autodiscovery": {"from-annotations": [*PACKET_AUTODISCOVERY["from-annotations"],
                                                NUMBERED]},
    "address-pools": [{"name": "p", "protocol": "bgp", "addresses": ["198.51.100.0/24"]}],
})
KEYS = ["metal.equinix.com/node-asn", "metal.equinix.com/peer-asn",
        "metal.equinix.com/peer-ip", "metal.equinix.com/src-ip",
        *(f"metal.equinix.com/bgp-peers-{n}-{f}" for n in (0, 1, 3)
          for f in ("node-asn", "peer-asn", "peer-ip", "src-ip", "bgp-pass"))]
ANNOTATION_VALUES = st.one_of(
    st.sampled_from(["64512", "0", "-5", "4294967296", "99999999999999999999", "abc",
                     "192.0.2.1", "192.0.2.1,192.0.2.2", "2001:db8::1", "::ffff:1.2.3.4",
                     "192.0.2.300", "", " ", ",", "x" * 5000, "1e3", "０"]),
    st.text(max_size=20))
NODES = st.fixed_dictionaries({
    "metadata": st.one_of(
        st.fixed_dictionaries({
            "name": st.text(min_size=1, max_size=10),
            "annotations": st.dictionaries(st.sampled_from(KEYS), ANNOTATION_VALUES),
            "labels": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)}),
        st.none(), st.integers(), st.just({"annotations": ["not", "a", "map"]})),
    "status": st.one_of(st.none(), st.just({"conditions": "garbage"}),
                        st.just({"conditions": [{"type": "NetworkUnavailable",
                                                 "status": "True"}, 7]})),
})


@settings(max_examples=300, deadline=None)
@given(NODES)
def test_node_annotations_never_crash_the_planner(node):
    annotations = (node["metadata"] or {}).get("annotations") if isinstance(
        node["metadata"], dict) else None
    if isinstance(annotations, dict):  # a recognisable password next to the garbage
        for key in [k for k in annotations if k.endswith("bgp-pass")]:
            annotations[key] = SECRET + annotations[key]
    info = NodeInfo.from_object(node)
    result = plan(CONFIG, info, [], [])
    for issue in result.issues:
        text = str(issue)
        assert f"node {info.name}" in text, text  # says which node
        assert SECRET not in text, f"password shown: {text}"
