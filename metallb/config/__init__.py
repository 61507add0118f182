"""Parse and validate the legacy MetalLB configuration into an immutable model (no I/O)."""

from metallb.config.errors import ConfigError, ConfigIssue, ConfigSyntaxError
from metallb.config.model import (
    AddressRange,
    Advertisement,
    AutodiscoveryMapping,
    Config,
    NodeSelector,
    Peer,
    PeerAutodiscovery,
    Pool,
    SelectorRequirement,
    selectors_match,
)
from metallb.config.parse import load_config_file, parse_config, parse_config_text

__all__ = [
    "AddressRange",
    "Advertisement",
    "AutodiscoveryMapping",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ConfigSyntaxError",
    "NodeSelector",
    "Peer",
    "PeerAutodiscovery",
    "Pool",
    "SelectorRequirement",
    "load_config_file",
    "parse_config",
    "parse_config_text",
    "selectors_match",
]
