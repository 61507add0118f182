"""The human summary printed by `metallb config check` (never includes passwords)."""

from __future__ import annotations

from metallb.config.counting import usable_address_count
from metallb.config.fields import format_duration
from metallb.config.model import BfdProfile, Config, NodeSelector, Peer, Pool


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def summarize(config: Config) -> list[str]:
    auto = config.peer_autodiscovery
    rules = len(auto.from_annotations) + len(auto.from_labels) if auto else 0
    lines = [
        f"{_plural(len(config.pools), 'pool')}, {_plural(len(config.peers), 'peer')}, "
        f"{_plural(rules, 'autodiscovery rule')}"
    ]
    for pool in config.pools:
        flags = [] if pool.auto_assign else ["auto-assign off"]
        if pool.avoid_buggy_ips:
            flags.append("avoid-buggy-ips")
        flags.extend(_allocation_flags(pool))
        if not pool.advertisements:
            flags.append("not announced: no BGPAdvertisement selects it")
        entries = ", ".join(entry.source.strip() for entry in pool.ranges)
        count = _plural(usable_address_count(pool), "address", "addresses")
        extra = f" ({', '.join(flags)})" if flags else ""
        lines.append(f"pool {pool.name}: {pool.protocol}, {count}: {entries}{extra}")
    lines.extend(_peer_line(peer) for peer in config.peers)
    lines.extend(_bfd_line(profile) for profile in config.bfd_profiles)
    if auto is not None:
        for kind, mappings in (
            ("annotations", auto.from_annotations),
            ("labels", auto.from_labels),
        ):
            for mapping in mappings:
                pairs = ", ".join(f"{name} <- {key}" for name, key in mapping.fields)
                lines.append(f"autodiscovery from {kind}: {pairs}")
        if auto.defaults:
            shown = ", ".join(
                f"{name}={'(set)' if name == 'password' else value}"
                for name, value in auto.defaults
            )
            lines.append(f"autodiscovery defaults: {shown}")
        if auto.node_selectors:
            lines.append(f"autodiscovery nodes: {_selectors_text(auto.node_selectors)}")
    lines.extend(f"differs from MetalLB: {note}" for note in upstream_differences(config))
    return lines


def upstream_differences(config: Config) -> list[str]:
    """Where this config behaves differently from upstream MetalLB, only where it
    matters for this config (docs/rules.md, rules D1 and C-rules on layer2 pools)."""
    notes = []
    automatic = [pool.name for pool in config.pools if pool.auto_assign]
    if len(automatic) > 1 and any(pool.allocation for pool in config.pools):
        notes.append(
            f"pools are tried in the order {', '.join(automatic)} (serviceAllocation "
            "priority, then name); upstream MetalLB's order among equals is random"
        )
    elif len(automatic) > 1:
        notes.append(
            f"pools are tried in the order listed ({', '.join(automatic)}); "
            "upstream MetalLB's order is random"
        )
    layer2 = [pool.name for pool in config.pools if pool.protocol == "layer2"]
    if layer2:
        notes.append(
            f"layer2 pools ({', '.join(layer2)}) hand out addresses that are never "
            "announced: only BGP mode is implemented"
        )
    return notes


def _allocation_flags(pool: Pool) -> list[str]:
    allocation = pool.allocation
    if allocation is None:
        return []
    flags = [f"priority {allocation.priority}"] if allocation.priority else []
    if allocation.namespaces or allocation.namespace_selectors:
        shown = list(allocation.namespaces)
        if allocation.namespace_selectors:
            shown.append(_selectors_text(allocation.namespace_selectors))
        flags.append(f"namespaces: {' or '.join(shown)}")
    if allocation.service_selectors:
        flags.append(f"services: {_selectors_text(allocation.service_selectors)}")
    return flags


def keepalive_ignored(peer: Peer) -> str | None:
    """What happens to a peer's `keepalive-time` (None when not set): ExaBGP 4.2 has no
    keepalive setting and always sends keepalives every negotiated hold time / 3
    (exabgp/bgp/message/open/holdtime.py), so the value is never sent. The speaker
    logs the same text once per peer."""
    if peer.keepalive_time is None:
        return None
    wanted = f"keepalive-time {format_duration(peer.keepalive_time)} (ignored: "
    if not peer.hold_time:
        return wanted + "with hold-time 0 ExaBGP sends no keepalives)"
    every = format_duration(int(peer.hold_time / 3))
    return wanted + f"ExaBGP sends keepalives every hold-time / 3 = {every})"


def _peer_line(peer: Peer) -> str:
    name = f" ({peer.name})" if peer.name else ""
    asn = f"dynamic ({peer.dynamic_asn})" if peer.dynamic_asn else str(peer.peer_asn)
    parts = [
        f"peer {peer.peer_address}{name} port {peer.peer_port}: peer-asn {asn}, "
        f"my-asn {peer.my_asn} ({'iBGP' if peer.is_ibgp else 'eBGP'}), "
        f"hold-time {format_duration(peer.hold_time)}"
    ]
    ignored = keepalive_ignored(peer)
    if ignored is not None:
        parts.append(ignored)
    if peer.router_id:
        parts.append(f"router-id {peer.router_id}")
    if peer.source_address:
        parts.append(f"source-address {peer.source_address}")
    if peer.ebgp_multihop:
        parts.append("ebgp-multihop")
    if peer.password_secret is not None:
        parts.append(f"password from Secret {peer.password_secret}")
    elif peer.password is not None:
        parts.append("password set")
    if peer.bfd_profile:
        parts.append(f"bfd-profile {peer.bfd_profile}")
    if peer.enable_graceful_restart:
        parts.append("graceful restart")
    parts.append(f"nodes: {_selectors_text(peer.node_selectors)}")
    return ", ".join(parts)


def _bfd_line(profile: BfdProfile) -> str:
    """Effective timers (FRR's defaults filled in) and the detection time they give
    when both ends use this profile."""
    tx, rx = profile.effective_transmit_interval, profile.effective_receive_interval
    multiplier = profile.effective_detect_multiplier
    line = (f"bfd-profile {profile.name}: transmit {tx}ms, receive {rx}ms, multiplier "
            f"{multiplier} (down after {multiplier * max(tx, rx)}ms of silence)")
    if profile.passive_mode:
        line += ", passive"
    return line


def _selectors_text(selectors: tuple[NodeSelector, ...]) -> str:
    if not selectors:
        return "all"
    alternatives = []
    for selector in selectors:
        terms = [f"{k}={v}" for k, v in selector.match_labels]
        for req in selector.match_expressions:
            values = f" ({', '.join(req.values)})" if req.values else ""
            terms.append(f"{req.key} {req.operator}{values}")
        alternatives.append(" and ".join(terms) or "all")
    return " or ".join(alternatives)
