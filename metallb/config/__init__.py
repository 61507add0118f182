"""Parse and validate the legacy MetalLB configuration into an immutable model (no I/O)."""

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

__all__ = [
    "AddressRange",
    "Advertisement",
    "AutodiscoveryMapping",
    "Config",
    "NodeSelector",
    "Peer",
    "PeerAutodiscovery",
    "Pool",
    "SelectorRequirement",
    "selectors_match",
]
