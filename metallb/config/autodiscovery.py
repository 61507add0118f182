"""`peer-autodiscovery`: where each node's own peers come from (Lokomotive on Packet).

The config only says which annotation/label holds which peer field; the values live on
the nodes and are validated later, per node, by `peers.peer_from_fields`.
"""

from __future__ import annotations

from collections.abc import Mapping

from metallb.config.issues import Issues, index_path, key_path
from metallb.config.model import AUTODISCOVERY_FIELDS, AutodiscoveryMapping, PeerAutodiscovery
from metallb.config.peers import REQUIRED_PEER_FIELDS, parse_peer_field
from metallb.config.selectors import parse_label_key, parse_node_selectors

NUMBER_PLACEHOLDER = "{N}"
# Mapped fields a node may lack: the Equinix Metal CCM writes `bgp-pass` only for a
# project with a BGP password.
OPTIONAL_FIELDS = ("password-base64",)
AUTODISCOVERY_KEYS = ("from-annotations", "from-labels", "defaults", "node-selectors")


def parse_peer_autodiscovery(value: object, path: str, issues: Issues) -> PeerAutodiscovery | None:
    mapping = issues.mapping(value, path)
    if mapping is None:
        return None
    issues.unknown_keys(mapping, AUTODISCOVERY_KEYS, path)
    before = len(issues)
    defaults = _parse_defaults(mapping.get("defaults"), f"{path}.defaults", issues)
    sources = {}
    for key, what in (("from-annotations", "annotation key"), ("from-labels", "label key")):
        sources[key] = _parse_mappings(mapping.get(key), f"{path}.{key}", what, defaults, issues)
    if not sources["from-annotations"] and not sources["from-labels"] and len(issues) == before:
        issues.add(
            path,
            "needs from-annotations or from-labels (a mapping from peer fields to "
            "node annotation / label keys)",
        )
    selectors = ()
    if "node-selectors" in mapping:
        selectors = parse_node_selectors(
            mapping["node-selectors"], f"{path}.node-selectors", issues
        )
    if len(issues) != before:
        return None
    return PeerAutodiscovery(
        from_annotations=sources["from-annotations"],
        from_labels=sources["from-labels"],
        defaults=tuple(defaults.items()),
        node_selectors=selectors,
    )


def _parse_defaults(value: object, path: str, issues: Issues) -> dict[str, str]:
    """Defaults are validated as peer fields now (so a typo fails at config time) and
    kept as text, the same form the node values have."""
    if value is None:
        return {}
    mapping = issues.mapping(value, path)
    if mapping is None:
        return {}
    issues.unknown_keys(mapping, AUTODISCOVERY_FIELDS, path)
    defaults = {}
    for name, raw in mapping.items():
        if (
            name in AUTODISCOVERY_FIELDS
            and parse_peer_field(name, raw, key_path(path, name), issues) is not None
        ):
            defaults[name] = str(raw)
    return defaults


def _parse_mappings(
    value: object, path: str, what: str, defaults: Mapping[str, str], issues: Issues
) -> tuple[AutodiscoveryMapping, ...]:
    if value is None:
        return ()
    # Lokomotive's fork wrote a single mapping; the list form allows several BGP sessions.
    if isinstance(value, Mapping):
        entries = [(path, value)]
    else:
        items = issues.sequence(value, path) or []
        entries = [(index_path(path, i), raw) for i, raw in enumerate(items)]
    result = []
    for entry_path, raw in entries:
        mapping = issues.mapping(raw, entry_path)
        if mapping is None:
            continue
        before = len(issues)
        issues.unknown_keys(mapping, AUTODISCOVERY_FIELDS, entry_path)
        pairs = []
        for name, key in mapping.items():
            # `{N}` numbers keys like metal.equinix.com/bgp-peers-{N}-peer-ip (see the
            # speaker's autodiscovery): check the key as it reads for N = 0.
            probe = key.replace(NUMBER_PLACEHOLDER, "0") if isinstance(key, str) else key
            if (
                name in AUTODISCOVERY_FIELDS
                and parse_label_key(probe, key_path(entry_path, name), issues, what) is not None
            ):
                pairs.append((name, key))
        for name in REQUIRED_PEER_FIELDS:
            if name not in mapping and name not in defaults:
                issues.add(
                    key_path(entry_path, name),
                    f"required peer field is neither mapped to an {what} nor in defaults",
                )
        if len(issues) == before:
            result.append(AutodiscoveryMapping(fields=tuple(pairs)))
    return tuple(result)


def node_peer_fields(
    mapping: AutodiscoveryMapping,
    defaults: tuple[tuple[str, str], ...],
    node_values: Mapping[str, str],
) -> tuple[dict[str, str], list[str]]:
    """The peer fields for one node: defaults overlaid with the node's annotation/label
    values. Returns (fields, missing) where `missing` lists the annotation/label keys a
    required field needed but the node does not have (for the log line / event)."""
    result = dict(defaults)
    missing = []
    for name, key in mapping.fields:
        if key in node_values:
            result[name] = node_values[key]
        elif name not in result and name not in OPTIONAL_FIELDS:
            missing.append(key)
    return result, missing
