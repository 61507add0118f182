"""The metallb.io custom resources (MetalLB 0.13+ API) as a second parser in front of
the one config model: `parse_crds(objects) -> Config`, no I/O. Written from upstream's
Go types and translation (v0.15.3: api/v1beta1, api/v1beta2, internal/config), module by
kind: `pools` (IPAddressPool), `peers` (BGPPeer, BFDProfile, Secrets),
`advertisements` (Community, BGPAdvertisement, L2Advertisement), `objects` (reading
objects at the edge), `parse` (the whole)."""

from metallb.config.crds.objects import flatten, is_config_object
from metallb.config.crds.parse import parse_crds

__all__ = ["flatten", "is_config_object", "parse_crds"]
