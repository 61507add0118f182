"""Run ExaBGP 4.2 with one cost removed from its route path.

    python -m speaker.exabgp_launcher <exabgp arguments>

ExaBGP 4.2 hands every announced or withdrawn route to each neighbor through
`Neighbor.remove_self`, which begins with `copy.deepcopy` of the whole change: the NLRI
and the full attribute set, again for every prefix of a batched command. Profiling the
speaker's 10k-route burst showed that deep copy as the largest single cost in ExaBGP
(about 40 % of its time). The only thing the neighbor changes is the next hop, so
`lean_remove_self` copies just the NLRI (and the attribute set only when it carries a
NEXT_HOP to rewrite); every other attribute object is shared, as ExaBGP already shares
it between the prefixes of one command before the copy. The result is equal to what the
original returns (tests/speaker/test_exabgp_launcher.py compares both).

The fix is applied only to the ExaBGP release it was written against; any other version
runs unchanged, and the launcher says so on stderr (which the driver logs to a file).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

PATCHED_RELEASES = ("4.2.",)


def lean_remove_self(neighbor: Any, change: Any) -> Any:
    """`Neighbor.remove_self` without the deep copy: a new Change whose NLRI (and, for
    `next-hop self`, attribute set) is a shallow copy with the neighbor's own address."""
    from exabgp.bgp.message.update.attribute import Attribute, NextHop
    from exabgp.rib.change import Change

    nlri = copy.copy(change.nlri)
    attributes = change.attributes
    if nlri.nexthop.SELF:
        own = neighbor.ip_self(nlri.afi)
        nlri.nexthop = own
        if Attribute.CODE.NEXT_HOP in attributes:
            attributes = copy.copy(attributes)
            attributes[Attribute.CODE.NEXT_HOP] = NextHop(str(own), own.pack())
    return Change(nlri, attributes)


def apply_fixes() -> bool:
    """Install `lean_remove_self` if this is an ExaBGP release it was checked against."""
    from exabgp.bgp.neighbor import Neighbor
    from exabgp.version import version

    if not version.startswith(PATCHED_RELEASES):
        print(f"metallb: ExaBGP {version} runs unpatched (lean_remove_self is for "
              f"{', '.join(PATCHED_RELEASES)}x)", file=sys.stderr)
        return False
    Neighbor.remove_self = lean_remove_self
    return True


def main() -> None:
    apply_fixes()
    from exabgp.application.main import main as exabgp_main

    sys.argv[0] = "exabgp"
    exabgp_main()


if __name__ == "__main__":
    main()
