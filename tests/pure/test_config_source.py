"""Which source a daemon's config comes from (`metallb.config_source`), without I/O:
the choice, the issues mapped to the objects that get a Warning Event, the events a
ConfigSource records, and the lab's CRD rendering of autodiscovered peers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from lab.config_format import with_config_format
from lab.objects import node_object
from lab.packet import packet_node_object
from metallb.config.crds import parse_crds
from metallb.config.errors import ConfigIssue
from metallb.config_source import AUTO, CONFIGMAP, CRDS, ConfigSource, Observed, chosen_source
from metallb.config_source.observed import issues_by_object
from metallb.metrics import K8sClientMetrics

NS = "metallb-system"
POOL = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "a", "namespace": NS, "resourceVersion": "5"},
        "spec": {"addresses": ["192.0.2.0/28"]}}
BAD_PEER = {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": "peer1", "namespace": NS, "resourceVersion": "6"},
            "spec": {"myASN": 64513, "peerASN": 64512, "peerAddress": "192.0.2.254",
                     "holdTime": "1s"}}
CONFIGMAP_OBJ = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "metallb", "namespace": NS, "resourceVersion": "3"},
                 "data": {"config": "address-pools: []\n"}}


class Events:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, str, str]] = []

    def record(self, obj, type_, reason, message) -> None:
        self.recorded.append((f"{obj['kind']}/{obj['metadata']['name']}", type_, reason,
                              message))


def source(mode: str = AUTO, events: Events | None = None) -> ConfigSource:
    return ConfigSource(NS, "metallb", "config", K8sClientMetrics(CollectorRegistry()),
                        mode=mode, events=events)


@pytest.mark.parametrize(("mode", "objects", "expected"), [
    (AUTO, (), CONFIGMAP),
    (AUTO, (POOL,), CRDS),
    (CONFIGMAP, (POOL,), CONFIGMAP),
    (CRDS, (), CRDS),
])
def test_auto_takes_the_objects_once_one_exists(mode, objects, expected):
    assert chosen_source(mode, Observed(CONFIGMAP_OBJ, objects)) == expected


def test_an_unknown_mode_is_refused_when_the_source_is_made():
    with pytest.raises(ValueError, match="auto, crds, configmap"):
        source("both")


def test_issues_go_to_the_object_they_name_first():
    issues = [ConfigIssue("BGPPeer/peer1: spec.holdTime", "bad"),
              ConfigIssue("IPAddressPool/a: spec.addresses[0]", "overlaps IPAddressPool/b"),
              ConfigIssue("document 1", "no object named")]
    found = issues_by_object(issues, (POOL, BAD_PEER))
    assert [(o["metadata"]["name"], [i.message for i in its]) for o, its in found] == [
        ("a", ["overlaps IPAddressPool/b"]), ("peer1", ["bad"])]


def test_invalid_object_gets_a_warning_naming_the_field_and_no_config():
    events = Events()
    src = source(events=events)
    assert src.candidate(Observed(None, (POOL, BAD_PEER))) is None
    assert src.stale and src.source == CRDS
    [(ref, type_, reason, message)] = events.recorded
    assert (ref, type_, reason) == ("BGPPeer/peer1", "Warning", "InvalidConfig")
    assert message.startswith("spec.holdTime: must be 0 (no keepalives) or at least 3s")


def test_the_ignored_configmap_gets_one_event_per_version():
    events = Events()
    src = source(events=events)
    observed = Observed(CONFIGMAP_OBJ, (POOL,))
    config = src.candidate(observed)
    assert config is not None and [p.name for p in config.pools] == ["a"]
    src.candidate(observed)
    assert [(r, reason) for r, _, reason, _ in events.recorded] == [
        ("ConfigMap/metallb", "ConfigMapIgnored")]
    newer = {**CONFIGMAP_OBJ, "metadata": {**CONFIGMAP_OBJ["metadata"], "resourceVersion": "9"}}
    src.candidate(Observed(newer, (POOL,)))
    assert len(events.recorded) == 2


def test_crds_source_without_objects_loads_nothing():
    src = source(CRDS)
    assert src.candidate(Observed(CONFIGMAP_OBJ, ())) is None


@pytest.mark.parametrize("packet", [False, True])
def test_lab_writes_autodiscovered_peers_as_bgppeers_per_node(packet):
    """The lab's `--config-format crds`: each node gets exactly the peers the speaker's
    autodiscovery finds in its annotations."""
    from lab.cluster import load_component_objects
    from metallb.config.parse import parse_config_text
    from speaker.autodiscovery import discover_peers
    from speaker.node import NodeInfo

    nodes = [packet_node_object(f"node{i}", f"192.0.2.{11 + i}", numbered=i > 0) if packet
             else node_object(f"node{i}", f"192.0.2.{11 + i}", "192.0.2.1")
             for i in range(3)]
    rendered = load_component_objects(None)
    legacy = next(o for o in rendered if o.get("kind") == "ConfigMap")
    rules = parse_config_text(legacy["data"]["config"]).peer_autodiscovery
    objects = with_config_format(rendered, nodes, CRDS)
    assert not any(o.get("kind") == "ConfigMap" and "config" in (o.get("data") or {})
                   for o in objects)
    config = parse_crds([o for o in objects
                         if o.get("apiVersion", "").startswith("metallb.io/")], NS)
    for node in nodes:
        info = NodeInfo.from_object(node)
        wanted, _ = discover_peers(rules, info)
        got = [replace(p, name=None, node_selectors=()) for p in config.peers
               if p.selects(info.labels)]
        assert wanted and sorted(got, key=repr) == sorted(wanted, key=repr)
    assert with_config_format(rendered, nodes, CONFIGMAP) is rendered
