"""metallb.io objects -> the one Config model, by upstream's rules; no I/O.

`parse_crds` takes the objects as dicts (from files or the API), and either returns a
complete Config or raises ConfigError listing every problem, each naming the object and
the field (`BGPPeer/peer1: spec.holdTime: ...`). Upstream's admission webhook runs the
same translation to refuse an object; we have no webhook, so the callers report and keep
the last good config.
"""

from __future__ import annotations

from collections.abc import Iterable

from metallb.config.crds.advertisements import (
    attach_advertisements,
    check_l2_advertisements,
    labels_of,
    parse_communities,
)
from metallb.config.crds.objects import Resource, flatten, read_resources
from metallb.config.crds.peers import basic_auth_passwords, parse_bfd_profiles, parse_peers
from metallb.config.crds.pools import allocation_order, parse_pools
from metallb.config.errors import ConfigError
from metallb.config.issues import Issues
from metallb.config.model import Config


def parse_crds(
    objects: Iterable[object] | Iterable[tuple[str, object]],
    namespace: str | None = None,
    source: str | None = None,
    read_passwords: bool = True,
) -> Config:
    """The Config the objects describe. `objects` are dicts (or (where, dict) pairs from
    `flatten`, which name unnamed documents in messages); `namespace`, when given, is
    the MetalLB namespace every object must be in. With `read_passwords=False` (the
    controller: it needs no password and may not read Secrets) a passwordSecret is kept
    as a reference only and its Secret is neither needed nor checked."""
    items = list(objects)
    if items and not all(isinstance(i, tuple) and len(i) == 2 for i in items):
        items = flatten(items)  # type: ignore[arg-type]
    issues = Issues()
    resources = read_resources(items, namespace, issues)  # type: ignore[arg-type]

    def of(kind: str) -> list[Resource]:
        return [r for r in resources if r.kind == kind]

    communities = parse_communities(of("Community"), issues)
    bfd_profiles = parse_bfd_profiles(of("BFDProfile"), issues)
    passwords = basic_auth_passwords(of("Secret")) if read_passwords else None
    peers = parse_peers(of("BGPPeer"), passwords, bfd_profiles, issues)
    pools = parse_pools(of("IPAddressPool"), issues)
    pools = attach_advertisements(of("BGPAdvertisement"), pools,
                                  labels_of(of("IPAddressPool")), communities, issues)
    check_l2_advertisements(of("L2Advertisement"), pools, issues)
    _check_advertised_peers(resources, peers, issues)
    for pool in pools.values():
        if not pool.advertisements:
            issues.warn(f"IPAddressPool/{pool.name}", "no BGPAdvertisement selects it: its "
                        "addresses are handed out but never announced")
    if issues.items:
        raise ConfigError(issues.items, source)
    return Config(
        peers=peers,
        pools=tuple(sorted(pools.values(), key=allocation_order)),
        bgp_communities=tuple(sorted(communities.items())),
        bfd_profiles=tuple(bfd_profiles[name] for name in sorted(bfd_profiles)),
        warnings=tuple(issues.warnings),
    )


def _check_advertised_peers(resources: list[Resource], peers: tuple, issues: Issues) -> None:
    """A BGPAdvertisement naming a BGPPeer that is not there announces nothing to it: a
    warning, as upstream accepts it (the peer may come later)."""
    names = {p.name for p in peers} | {r.name for r in resources if r.kind == "BGPPeer"}
    for resource in resources:
        if resource.kind != "BGPAdvertisement":
            continue
        spec = resource.body.get("spec") or {}
        listed = spec.get("peers") if isinstance(spec, dict) else None
        for i, name in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(name, str) and name not in names:
                issues.warn(resource.path(f"spec.peers[{i}]"), "names no BGPPeer", name)
