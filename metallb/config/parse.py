"""Parse and validate the legacy MetalLB configuration into the model (docs/rules.md,
section C: rules C1, C2, C3 and the field rules after them).

No I/O: callers hand in text (the commands read files and stdin, the daemons get
ConfigMaps from the API). Every rule records an issue and carries on, so one run
reports all problems; the result is either a complete Config or a ConfigError listing
every issue with its path and value.
"""

from __future__ import annotations

from collections.abc import Mapping

from metallb.config.autodiscovery import parse_peer_autodiscovery
from metallb.config.bfd import parse_bfd_profiles
from metallb.config.errors import ConfigError, ConfigIssue, ConfigSyntaxError
from metallb.config.issues import Issues, type_name
from metallb.config.model import Config
from metallb.config.peers import parse_peers, peer_from_fields, peers_from_fields
from metallb.config.pools import parse_communities, parse_pools
from metallb.config.summary import summarize
from metallb.config.yaml_text import load_yaml_documents

__all__ = [
    "ConfigError",
    "ConfigSyntaxError",
    "parse_config",
    "parse_config_text",
    "peer_from_fields",
    "peers_from_fields",
    "summarize",
]

TOP_LEVEL_KEYS = ("peers", "peer-autodiscovery", "bgp-communities", "address-pools",
                  "bfd-profiles")


def parse_config(document: object, source: str | None = None) -> Config:
    """The bare config document as loaded from YAML (a mapping, or None for empty)."""
    if document is None:
        return Config()
    issues = Issues()
    mapping = issues.mapping(document, "", f"a mapping with keys {', '.join(TOP_LEVEL_KEYS)}")
    if mapping is None:
        raise ConfigError(issues.items, source)
    issues.unknown_keys(mapping, TOP_LEVEL_KEYS, "")
    present = {k: v for k, v in mapping.items() if k in TOP_LEVEL_KEYS and v is not None}
    communities = {}
    if "bgp-communities" in present:
        communities = parse_communities(present["bgp-communities"], "bgp-communities", issues)
    bfd_profiles = ()
    if "bfd-profiles" in present:
        bfd_profiles = parse_bfd_profiles(present["bfd-profiles"], "bfd-profiles", issues)
    peers = ()
    if "peers" in present:
        peers = parse_peers(present["peers"], "peers", issues, [p.name for p in bfd_profiles])
    autodiscovery = None
    if "peer-autodiscovery" in present:
        autodiscovery = parse_peer_autodiscovery(
            present["peer-autodiscovery"], "peer-autodiscovery", issues
        )
    pools = ()
    if "address-pools" in present:
        pools = parse_pools(present["address-pools"], "address-pools", communities, issues)
    if issues.items:
        raise ConfigError(issues.items, source)
    return Config(
        peers=peers,
        pools=pools,
        bgp_communities=tuple(communities.items()),
        peer_autodiscovery=autodiscovery,
        bfd_profiles=bfd_profiles,
        warnings=tuple(issues.warnings),
    )


def parse_config_text(text: str, source: str | None = None) -> Config:
    """YAML text of a bare config, or of a ConfigMap manifest holding it under
    `data.config` (also inside a multi-document file with exactly one ConfigMap)."""
    documents = [d for d in load_yaml_documents(text, source) if d is not None]
    if not documents:
        return Config()
    if len(documents) > 1:
        config_maps = [d for d in documents if _is_config_map(d)]
        if len(config_maps) != 1:
            raise ConfigError(
                [
                    ConfigIssue(
                        "",
                        f"has {len(documents)} YAML documents and {len(config_maps)} ConfigMaps; "
                        "give one bare config or exactly one ConfigMap",
                    )
                ],
                source,
            )
        documents = config_maps
    document = documents[0]
    if _is_config_map(document):
        return _parse_config_map(document, source)  # type: ignore[arg-type]
    if isinstance(document, Mapping) and "kind" in document and "apiVersion" in document:
        raise ConfigError(
            [
                ConfigIssue(
                    "kind",
                    "is not a ConfigMap; give the MetalLB ConfigMap or the bare config",
                    document["kind"] if isinstance(document["kind"], str) else None,
                )
            ],
            source,
        )
    return parse_config(document, source)


def _is_config_map(document: object) -> bool:
    if not isinstance(document, Mapping):
        return False
    data = document.get("data")
    return document.get("kind") == "ConfigMap" or (
        isinstance(data, Mapping) and "config" in data and "apiVersion" in document
    )


def _parse_config_map(manifest: Mapping, source: str | None) -> Config:
    data = manifest.get("data")
    if not isinstance(data, Mapping) or "config" not in data:
        raise ConfigError(
            [
                ConfigIssue(
                    "data.config",
                    "the ConfigMap has no `config` key under `data`; put the MetalLB "
                    "config there as a YAML string",
                )
            ],
            source,
        )
    embedded = data["config"]
    if not isinstance(embedded, str):
        raise ConfigError(
            [
                ConfigIssue(
                    "data.config",
                    f"must be a string holding YAML (use `config: |`), not {type_name(embedded)}",
                )
            ],
            source,
        )
    documents = [d for d in load_yaml_documents(embedded, source, "data.config") if d is not None]
    if len(documents) > 1:
        raise ConfigError(
            [ConfigIssue("data.config", "holds several YAML documents; give one")], source
        )
    return parse_config(documents[0] if documents else None, source)

