"""The MetalLB configuration: text in, one immutable model out, with no I/O.

Owns the legacy ConfigMap format (`parse`: YAML text or a ConfigMap manifest -> `Config`,
every problem reported at once with its path), the frozen model every daemon and command
reads (`model`), the field rules shared with peer autodiscovery (`fields`, `peers`), the
address arithmetic of pool entries (`addresses`, `counting`), and the `config check`
summary (`summary`). The metallb.io custom resources are the second source
(`crds.parse_crds`: objects -> the same `Config`). Warnings for configs that are
valid but look like mistakes travel on `Config.warnings`. Reading files, stdin or
the API is the callers' job (`metallb.commands.input_files`, the daemons' config source).
"""

from metallb.config.errors import ConfigError, ConfigIssue, ConfigSyntaxError
from metallb.config.model import (
    AddressRange,
    Advertisement,
    AutodiscoveryMapping,
    BfdProfile,
    Config,
    NodeSelector,
    Peer,
    PeerAutodiscovery,
    Pool,
    SelectorRequirement,
    ServiceAllocation,
    selectors_match,
)
from metallb.config.parse import parse_config, parse_config_text

__all__ = [
    "AddressRange",
    "Advertisement",
    "AutodiscoveryMapping",
    "BfdProfile",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ConfigSyntaxError",
    "NodeSelector",
    "Peer",
    "PeerAutodiscovery",
    "Pool",
    "SelectorRequirement",
    "ServiceAllocation",
    "parse_config",
    "parse_config_text",
    "selectors_match",
]
