"""Fix 5: `announce|withdraw attributes ... nlri P1 P2 ...` parses the attributes once.

ExaBGP's handlers run every prefix through the configuration tokeniser and log a line
per route. `batched_attributes` parses the attributes once (ExaBGP's parser, on the
command with only P1) and makes the other routes from that one; commands it does not
recognise as plain unicast prefixes of one family go to ExaBGP's handler unchanged.
When something raises while its routes are injected, it logs and answers `error` as
ExaBGP's handlers do for their parse errors (for any exception, not only those: the
driver waits for an answer to every command).

Replaces the `announce attributes` and `withdraw attributes` command handlers
(`exabgp.reactor.api.command.announce`), verified against ExaBGP 4.2.25
(guard.VERIFIED_VERSION); the fingerprints are in FIXES below.

Contract test: tests/bgp/test_exabgp_launcher_fixes.py (injects what ExaBGP's handler
injects, answers what it answers, also when injecting raises).
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

from exabgp.bgp.message import OUT
from exabgp.bgp.message.update.nlri.cidr import CIDR
from exabgp.bgp.message.update.nlri.inet import INET
from exabgp.protocol.family import SAFI
from exabgp.reactor.api import API
from exabgp.reactor.api.command import limit
from exabgp.reactor.api.command.command import Command
from exabgp.rib.change import Change

from .guard import Fix, Verified

# what ExaBGP's handlers log when parsing raises (reactor/api/command/announce.py)
PARSE_FAILURE = "issue parsing the route"


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


def _template(api: Any, head: str, first_prefix: str, peers: list[str],
              packed_length: int) -> Any | None:
    """The one plain unicast route ExaBGP's parser makes of `head nlri first_prefix`,
    or None (then ExaBGP's own handler takes the command)."""
    try:
        parsed = api.api_attributes(f"{head} nlri {first_prefix}", peers)
    except Exception:  # ExaBGP's handler meets the same problem and answers its way
        return None
    if (len(parsed) != 1 or type(parsed[0].nlri) is not INET
            or parsed[0].nlri.safi != SAFI.unicast
            or len(parsed[0].nlri.cidr.pack_ip()) != packed_length):
        return None
    return parsed[0]


def batched_attributes(action: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """An `announce|withdraw attributes ... nlri P1 P2 ...` handler that parses the
    attributes once and makes the other routes from that one, where ExaBGP parses every
    prefix through its configuration tokeniser and writes a log line per route. Commands
    it does not recognise as plain unicast prefixes go to ExaBGP's `original` handler."""
    out = OUT.ANNOUNCE if action == "announce" else OUT.WITHDRAW

    def handler(api: Any, reactor: Any, service: str, line: str) -> Any:
        try:
            descriptions, command = limit.extract_neighbors(line)
            head, sep, tail = command.partition(" nlri ")
            prefixes = tail.split()
            routes = _host_routes(prefixes) if sep and len(prefixes) > 1 else None
            peers = limit.match_neighbors(reactor.peers(service), descriptions)
            first = (_template(api, head, prefixes[0], peers, len(routes[0][0]))
                     if routes is not None and peers else None)
        except Exception:  # ExaBGP's handler meets the same problem and answers its way
            first = None
        if first is None:
            return original(api, reactor, service, line)

        def callback() -> Iterator[bool]:
            try:
                for packed, length in routes:
                    nlri = copy.copy(first.nlri)
                    nlri.cidr = CIDR(packed, length)
                    nlri.action = out
                    reactor.configuration.inject_change(peers, Change(nlri, first.attributes))
                    yield False
                api.log_message(f"{len(routes)} routes {action} for {', '.join(peers)}")
                reactor.processes.answer_done(service)
            except Exception:  # as ExaBGP's handler answers a ValueError or IndexError
                api.log_failure(PARSE_FAILURE)
                reactor.processes.answer_error(service)
                yield True

        reactor.asynchronous.schedule(service, line, callback())
        return True

    return handler


def _fix(action: str, name: str, function: str, sha256: str) -> Fix:
    def write(replacement: Any) -> None:
        Command.callback["text"][name] = replacement

    return Fix(
        replaces=Verified(f"exabgp.reactor.api.command.announce.{function} "
                          f"(the '{name}' command)", sha256,
                          lambda: Command.callback["text"][name]),
        write=write,
        make=lambda original: batched_attributes(action, original),
        relies_on=RELIES_ON,
    )


RELIES_ON = (
    Verified.attribute(API, "api_attributes",
                       "10baed125e5efb99f9c7ffa064d07e7cc55a45ef91f579cef66da20b3fe33f4d"),
    Verified.attribute(limit, "extract_neighbors",
                       "bf861945a45413211006b179373f508c90ae81b651f13f4ee142c3138dc12781"),
    Verified.attribute(limit, "match_neighbors",
                       "fb09040781fd15ba8036c18e2a7a4e85f7a58f2ddbea629720229a1df0483244"),
)

FIXES = (
    _fix("announce", "announce attributes", "announce_attributes",
         "10fd9d0752bd6bea917447cec4a8e2a66ebe1c85a338616dac5c71248f27ebbc"),
    _fix("withdraw", "withdraw attributes", "withdraw_attribute",
         "38812dcd134957bbd608701fca5e7c433f1b44556848e8e00754ccc6fe413469"),
)
