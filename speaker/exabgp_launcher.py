"""Run ExaBGP 4.2 with five costs removed from its route path.

    python -m speaker.exabgp_launcher <exabgp arguments>

Profiling the speaker's 10k-route burst (bench/exabgp_raw.py, cProfile on ExaBGP) showed
five things in ExaBGP 4.2.25 that cost more than the work itself:

1. `Neighbor.remove_self` begins every announced or withdrawn route with a
   `copy.deepcopy` of the whole change (NLRI and all attributes): about 40 % of ExaBGP's
   time. Only the next hop changes, so `lean_remove_self` copies just the NLRI, and the
   attribute set once per command and next hop when it carries a NEXT_HOP to rewrite;
   the routes of a command keep sharing one set, as ExaBGP shares the original.
2. `group-updates` packs routes with equal attributes into one UPDATE only for IPv4
   unicast; IPv6 routes always go one per UPDATE. `grouped_updates` groups every unicast
   family (MP_REACH_NLRI packing already splits by next hop and message size).
3. Between two slices of a pending API command the reactor sleeps up to 10 ms when no
   peer has work: a 10k-route command waited ~2 s in total once routes were grouped.
   `no_sleep_while_busy` skips that sleep while API work is pending; an idle ExaBGP
   still sleeps as before.
4. The reactor works through at most 50 routes of an API command per turn and then lets
   every peer send what is pending, so a burst leaves as UPDATEs of ~50 routes.
   `ASYNC_ROUTES_PER_TURN` (1000, the driver's batch) fills UPDATEs instead.
5. `announce|withdraw attributes ... nlri P1 P2 ...` runs every prefix through the
   configuration tokeniser and logs a line per route. `batched_attributes` parses the
   attributes once (with ExaBGP's parser) and makes the other routes from that one;
   commands it does not recognise go to ExaBGP's own handler.

Together: 10k /128s into FRR in ~0.25 s instead of ~0.9 s (README, bench/exabgp_raw.py).
Each result equals what ExaBGP computes itself (tests/bgp/test_exabgp_launcher.py);
the interop tests against FRR run through this launcher. The fixes are applied only to
the ExaBGP release they were written against; any other version runs unchanged, and the
launcher says so on stderr (which the driver logs to a file).
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import sys
from collections.abc import Callable, Iterator
from typing import Any

PATCHED_RELEASES = ("4.2.",)
ASYNC_ROUTES_PER_TURN = 1000  # = speaker.exabgp_config.DEFAULT_BATCH


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
            attributes = _with_next_hop(attributes, own, Attribute.CODE.NEXT_HOP, NextHop)
    return Change(nlri, attributes)


# (id of a command's attribute set, next hop) -> (that set, its copy with the next hop)
_REWRITTEN: dict[tuple[int, str], tuple[Any, Any]] = {}
_REWRITTEN_MAX = 256


def _with_next_hop(attributes: Any, own: Any, code: int, next_hop: Any) -> Any:
    """The attribute set with NEXT_HOP = `own`, made once per command and next hop: the
    routes of one command keep sharing one set (as ExaBGP shares the original), so its
    packed form and index are computed once, not per route."""
    key = (id(attributes), str(own))
    known = _REWRITTEN.get(key)
    if known is not None and known[0] is attributes:
        return known[1]
    rewritten = copy.copy(attributes)
    rewritten[code] = next_hop(str(own), own.pack())
    if len(_REWRITTEN) >= _REWRITTEN_MAX:
        _REWRITTEN.clear()
    _REWRITTEN[key] = (attributes, rewritten)
    return rewritten


def grouped_updates(rib: Any, grouped: bool) -> Iterator[Any]:
    """`OutgoingRIB.updates` that, with `grouped`, packs the pending routes of every
    unicast family (not IPv4 only) into one Update per attribute set."""
    from exabgp.bgp.message import Update
    from exabgp.bgp.message.refresh import RouteRefresh
    from exabgp.bgp.message.update.attribute import Attributes
    from exabgp.protocol.family import SAFI

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


def no_sleep_while_busy(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap `Reactor._wait_for_io`: no sleep while an API command is being worked
    through (scheduled asynchronous work left)."""

    @functools.wraps(original)
    def wait_for_io(reactor: Any, sleeptime: int) -> Any:
        if not reactor.asynchronous.ready():
            sleeptime = 0
        return original(reactor, sleeptime)

    wait_for_io.metallb_patched = True  # type: ignore[attr-defined]
    return wait_for_io


def _host_routes(prefixes: list[str]) -> list[tuple[bytes, int]] | None:
    """(packed address, length) of each prefix, or None unless all are valid prefixes of
    one family without host bits (anything else goes through ExaBGP's own parser)."""
    parsed = []
    for text in prefixes:
        try:
            net = ipaddress.ip_network(text, strict=True)
        except ValueError:
            return None
        parsed.append((net.network_address.packed, net.prefixlen))
    return parsed if len({len(packed) for packed, _ in parsed}) == 1 else None


def batched_attributes(action: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """An `announce|withdraw attributes ... nlri P1 P2 ...` handler that parses the
    attributes once (ExaBGP's parser, on the command with only P1) and makes the other
    routes from that one, where ExaBGP parses every prefix through its configuration
    tokeniser and writes a log line per route. Commands it does not recognise as plain
    unicast prefixes go to ExaBGP's `original` handler unchanged."""
    from exabgp.bgp.message import OUT
    from exabgp.bgp.message.update.nlri.cidr import CIDR
    from exabgp.bgp.message.update.nlri.inet import INET
    from exabgp.protocol.family import SAFI
    from exabgp.reactor.api.command.limit import extract_neighbors, match_neighbors
    from exabgp.rib.change import Change

    out = OUT.ANNOUNCE if action == "announce" else OUT.WITHDRAW

    def handler(api: Any, reactor: Any, service: str, line: str) -> Any:
        descriptions, command = extract_neighbors(line)
        head, sep, tail = command.partition(" nlri ")
        prefixes = tail.split()
        routes = _host_routes(prefixes) if sep and len(prefixes) > 1 else None
        peers = match_neighbors(reactor.peers(service), descriptions)
        if routes is None or not peers:
            return original(api, reactor, service, line)
        try:
            template = api.api_attributes(f"{head} nlri {prefixes[0]}", peers)
        except Exception:  # ExaBGP's handler meets the same problem its own way
            return original(api, reactor, service, line)
        if (len(template) != 1 or type(template[0].nlri) is not INET
                or template[0].nlri.safi != SAFI.unicast
                or len(template[0].nlri.cidr.pack_ip()) != len(routes[0][0])):
            return original(api, reactor, service, line)
        first = template[0]

        def callback() -> Iterator[bool]:
            for packed, length in routes:
                nlri = copy.copy(first.nlri)
                nlri.cidr = CIDR(packed, length)
                nlri.action = out
                reactor.configuration.inject_change(peers, Change(nlri, first.attributes))
                yield False
            api.log_message(f"{len(routes)} routes {action} for {', '.join(peers)}")
            reactor.processes.answer_done(service)

        reactor.asynchronous.schedule(service, line, callback())
        return True

    handler.metallb_patched = True  # type: ignore[attr-defined]
    return handler


def apply_fixes() -> bool:
    """Install the fixes if this is an ExaBGP release they were checked against."""
    from exabgp.bgp.neighbor import Neighbor
    from exabgp.version import version

    if not version.startswith(PATCHED_RELEASES):
        print(f"metallb: ExaBGP {version} runs unpatched (the launcher's fixes are for "
              f"{', '.join(PATCHED_RELEASES)}x)", file=sys.stderr)
        return False
    from exabgp.reactor.api.command.command import Command
    from exabgp.reactor.asynchronous import ASYNC
    from exabgp.reactor.loop import Reactor
    from exabgp.rib.outgoing import OutgoingRIB

    Neighbor.remove_self = lean_remove_self
    OutgoingRIB.updates = grouped_updates
    ASYNC.LIMIT = ASYNC_ROUTES_PER_TURN
    handlers = Command.callback["text"]
    for action in ("announce", "withdraw"):
        name = f"{action} attributes"
        if not getattr(handlers[name], "metallb_patched", False):
            handlers[name] = batched_attributes(action, handlers[name])
    if not getattr(Reactor._wait_for_io, "metallb_patched", False):
        Reactor._wait_for_io = no_sleep_while_busy(Reactor._wait_for_io)
    return True


def main() -> None:
    apply_fixes()
    from exabgp.application.main import main as exabgp_main

    sys.argv[0] = "exabgp"
    exabgp_main()


if __name__ == "__main__":
    main()
