"""Peers a node describes itself, from its annotations or labels (Lokomotive / Packet).

A mapping names, per peer field, the annotation (or label) that holds its value, e.g.
`peer-address: metal.equinix.com/peer-ip`. Two Packet conventions are supported:
- one key per field whose `peer-ip` may list several addresses, comma separated (one peer
  each, all sharing the other fields);
- numbered keys, written in the mapping with a `{N}` placeholder
  (`metal.equinix.com/bgp-peers-{N}-peer-ip`), expanded for N = 0, 1, ... while present.
Values are validated by the same code as static peers; a node with missing or invalid
values gets no peer from that mapping, and an issue naming the node and the key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from metallb.config.autodiscovery import NUMBER_PLACEHOLDER as PLACEHOLDER
from metallb.config.autodiscovery import node_peer_fields
from metallb.config.errors import ConfigIssue
from metallb.config.model import AutodiscoveryMapping, Peer, PeerAutodiscovery, selectors_match
from metallb.config.peers import peers_from_fields
from speaker.node import NodeInfo

MAX_NUMBERED_PEERS = 64


def discover_peers(
    rules: PeerAutodiscovery, node: NodeInfo
) -> tuple[list[Peer], list[ConfigIssue]]:
    if not selectors_match(rules.node_selectors, node.labels):
        return [], []
    peers: list[Peer] = []
    issues: list[ConfigIssue] = []
    where = f"node {node.name}"
    sources = (
        ("annotation", rules.from_annotations, node.annotations),
        ("label", rules.from_labels, node.labels),
    )
    for kind, mappings, values in sources:
        for mapping in mappings:
            for numbered in _expand(mapping, values):
                if not any(key in values for _, key in numbered.fields):
                    continue  # this node does not use this convention
                fields, missing = node_peer_fields(numbered, rules.defaults, values)
                if missing:
                    issues.append(ConfigIssue(
                        where, f"no autodiscovered peer: missing {kind}(s) "
                        f"{', '.join(missing)}; add them to the node", None))
                    continue
                found, problems = peers_from_fields(fields, where)
                issues.extend(_name_keys(problems, numbered.as_dict(), kind, where))
                peers.extend(p for p in found if p not in peers)
    return peers, issues


def _expand(
    mapping: AutodiscoveryMapping, values: Mapping[str, str]
) -> Iterator[AutodiscoveryMapping]:
    if not any(PLACEHOLDER in key for _, key in mapping.fields):
        yield mapping
        return
    for n in range(MAX_NUMBERED_PEERS):
        numbered = tuple((f, k.replace(PLACEHOLDER, str(n))) for f, k in mapping.fields)
        if not any(k in values for _, k in numbered):
            return
        yield AutodiscoveryMapping(numbered)


def _name_keys(
    issues: list[ConfigIssue], keys: dict[str, str], kind: str, where: str
) -> list[ConfigIssue]:
    """Rephrase field paths as the annotation / label the user must fix on the node."""
    out = []
    for issue in issues:
        field = next((f for f in keys if issue.path.endswith(f)), None)
        path = f"{where} {kind} {keys[field]}" if field else issue.path or where
        out.append(ConfigIssue(path, issue.message, issue.value))
    return out
