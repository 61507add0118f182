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
from typing import TYPE_CHECKING

from metallb.config.errors import ConfigIssue
from metallb.config.model import Peer, PeerAutodiscovery, selectors_match

if TYPE_CHECKING:
    from speaker.planner import NodeInfo

PLACEHOLDER = "{N}"
MAX_NUMBERED_PEERS = 64


def discover_peers(
    rules: PeerAutodiscovery, node: NodeInfo
) -> tuple[list[Peer], list[ConfigIssue]]:
    from metallb.config.parse import peer_from_fields

    if not selectors_match(rules.node_selectors, node.labels):
        return [], []
    peers: list[Peer] = []
    issues: list[ConfigIssue] = []
    defaults = dict(rules.defaults)
    sources = (
        ("annotation", rules.from_annotations, node.annotations),
        ("label", rules.from_labels, node.labels),
    )
    for kind, mappings, values in sources:
        for mapping in mappings:
            for keys in _expand(mapping.as_dict(), values):
                found = {f: values[k] for f, k in keys.items() if k in values}
                if not found:
                    continue  # this node does not use this convention
                for address in _addresses(found.get("peer-address")):
                    fields: dict[str, object] = {**defaults, **found}
                    if address is not None:
                        fields["peer-address"] = address
                    where = f"node {node.name}"
                    peer, problems = peer_from_fields(fields, where)
                    issues.extend(_name_keys(problems, keys, kind, where))
                    if peer is not None and not problems and peer not in peers:
                        peers.append(peer)
    return peers, issues


def _expand(keys: dict[str, str], values: Mapping[str, str]) -> Iterator[dict[str, str]]:
    if not any(PLACEHOLDER in k for k in keys.values()):
        yield keys
        return
    for n in range(MAX_NUMBERED_PEERS):
        numbered = {f: k.replace(PLACEHOLDER, str(n)) for f, k in keys.items()}
        if not any(k in values for k in numbered.values()):
            return
        yield numbered


def _addresses(raw: str | None) -> list[str | None]:
    if raw is None:
        return [None]  # let validation report the missing peer-address
    parts = [p.strip() for p in raw.split(",")]
    return [p for p in parts if p] or [raw]


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
