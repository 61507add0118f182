"""The lab's config in the format `metallb lab up --config-format` asks for.

The component renders the config as the legacy ConfigMap whenever Packet peer
autodiscovery is on (the lab's default: peers come from the metal.equinix.com/* Node
annotations the lab writes), because the metallb.io API has no autodiscovery. For
`--config-format crds` (the default) the lab, which knows its Nodes, replaces that
ConfigMap by metallb.io objects saying the same: the peers each Node's annotations
describe (found by the speaker's own autodiscovery code) become BGPPeers selecting that
Node by its hostname label, the rest as `metallb config convert` writes it. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from metallb.component.render import CONFIGMAP_KEY
from metallb.config.crds.convert import convert_config
from metallb.config.model import Config, NodeSelector, Peer
from metallb.config.parse import parse_config_text
from speaker.autodiscovery import discover_peers
from speaker.node import NodeInfo

CONFIG_FORMATS = ("crds", "configmap")
HOSTNAME_LABEL = "kubernetes.io/hostname"


def is_config_map(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "ConfigMap" and CONFIGMAP_KEY in (obj.get("data") or {})


def with_config_format(objects: list[dict[str, Any]], nodes: list[Mapping[str, Any]],
                       config_format: str) -> list[dict[str, Any]]:
    """`objects` (the rendered component) with the config in `config_format`; objects
    already in that format come back unchanged."""
    if config_format not in CONFIG_FORMATS:
        raise ValueError(f"config format must be one of {', '.join(CONFIG_FORMATS)}, "
                         f"got {config_format!r}")
    config_map = next((o for o in objects if is_config_map(o)), None)
    if config_format == "configmap" or config_map is None:
        return objects
    namespace = config_map["metadata"]["namespace"]
    config = static_peers(parse_config_text(config_map["data"][CONFIGMAP_KEY]), nodes)
    labels = config_map["metadata"].get("labels") or {}
    converted = [{**obj, "metadata": {**obj["metadata"], "labels": dict(labels)}}
                 for obj in convert_config(config, namespace).objects]
    at = objects.index(config_map)
    return [*objects[:at], *converted, *objects[at + 1:]]


def static_peers(config: Config, nodes: list[Mapping[str, Any]]) -> Config:
    """`config` with its peer autodiscovery replaced by the peers it finds on `nodes`,
    each limited to its node (the same peer on every node stays one peer)."""
    rules = config.peer_autodiscovery
    if rules is None:
        return config
    found: dict[Peer, list[str]] = {}
    for node in nodes:
        info = NodeInfo.from_object(node)
        peers, issues = discover_peers(rules, info)
        if issues:
            raise ValueError("; ".join(str(i) for i in issues))
        for peer in peers:
            found.setdefault(peer, []).append(info.labels.get(HOSTNAME_LABEL, info.name))
    peers = list(config.peers)
    for peer, hosts in found.items():
        if len(hosts) == len(nodes):
            peers.append(peer)
        else:
            peers.extend(dataclasses.replace(peer, node_selectors=(
                NodeSelector(match_labels=((HOSTNAME_LABEL, host),)),)) for host in hosts)
    return dataclasses.replace(config, peers=tuple(peers), peer_autodiscovery=None)


def config_summary(objects: list[dict[str, Any]]) -> str:
    """"ConfigMap" or "N metallb.io objects": how the config went in, for progress."""
    if any(is_config_map(o) for o in objects):
        return "the legacy ConfigMap"
    count = sum(1 for o in objects if str(o.get("apiVersion", "")).startswith("metallb.io/"))
    return f"{count} metallb.io objects"


__all__ = ["CONFIG_FORMATS", "config_summary", "static_peers", "with_config_format"]
