"""Fix 2: `OutgoingRIB.updates` groups routes of every unicast family, not IPv4 only.

With `group-updates`, ExaBGP packs routes with equal attributes into one UPDATE only
for IPv4 unicast; IPv6 routes always go one per UPDATE. `grouped_updates` groups every
unicast family (the MP_REACH_NLRI packing of `Update.messages` already splits by next
hop and message size). It reads and resets the RIB's pending state exactly as the
original does, which is why the whole `OutgoingRIB` class is fingerprinted.

Replaces `exabgp.rib.outgoing.OutgoingRIB.updates`, verified against ExaBGP 4.2.25
(guard.VERIFIED_VERSION); the fingerprints are in FIX below.

Contract test: tests/bgp/test_exabgp_launcher_fixes.py (same routes as ExaBGP sends;
grouped IPv6 UPDATEs byte for byte what ExaBGP's encoder makes of those routes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from exabgp.bgp.message import Update
from exabgp.bgp.message.refresh import RouteRefresh
from exabgp.bgp.message.update.attribute import Attributes
from exabgp.protocol.family import SAFI
from exabgp.rib import outgoing
from exabgp.rib.outgoing import OutgoingRIB

from .guard import Verified, attribute_fix


def grouped_updates(rib: Any, grouped: bool) -> Iterator[Any]:
    """`OutgoingRIB.updates` that, with `grouped`, packs the pending routes of every
    unicast family (not IPv4 only) into one Update per attribute set."""
    pending, attribute_sets = rib._new_attr_af_nlri, rib._new_attribute
    rib._new_nlri, rib._new_attr_af_nlri, rib._new_attribute = {}, {}, {}
    refreshing = list(rib._enhanced_refresh_start)
    for afi, safi in refreshing:
        yield Update(RouteRefresh(afi, safi, RouteRefresh.start), Attributes())
    for attr_index, by_family in pending.items():
        attributes = attribute_sets[attr_index]
        for (_afi, safi), changes in by_family.items():
            if not changes:
                continue
            if grouped and safi == SAFI.unicast:
                yield Update([change.nlri for change in changes.values()], attributes)
            else:
                for change in changes.values():
                    yield Update([change.nlri], attributes)
    if refreshing:  # enhanced route refresh: close it, then send what waited for it
        for afi, safi in refreshing:
            rib._enhanced_refresh_start.remove((afi, safi))
            yield Update(RouteRefresh(afi, safi, RouteRefresh.end), Attributes())
        for change in rib._enhanced_refresh_delay:
            rib.add_to_rib(change, True)
        rib._enhanced_refresh_delay = []
        yield from grouped_updates(rib, grouped)


FIX = attribute_fix(
    OutgoingRIB, "updates", "04b8b8b14014a3038cb7b95ac5ed39c41b201affcc4b6e83ee8b09b39c0a13cb",
    make=lambda _original: grouped_updates,
    relies_on=(Verified.attribute(outgoing, "OutgoingRIB",
                                  "4905865525f4d959210458dca84799c759a622580c26881b051c8e5b4114a7ba"),),
)
