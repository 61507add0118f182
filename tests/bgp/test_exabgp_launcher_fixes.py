"""Contract tests of the launcher's route fixes against ExaBGP 4.2.25 itself: each gives
what the original gives (fix 1 `lean_remove_self`, fix 2 `grouped_updates`, fix 5
`batched_attributes`), down to the bytes of the UPDATE messages."""

from __future__ import annotations

import pytest
from exabgp.bgp.message import Update
from exabgp.bgp.message.open.capability.negotiated import Negotiated
from exabgp.bgp.message.update.attribute import Attribute
from exabgp.configuration.setup import environment
from exabgp.protocol.family import AFI, SAFI
from exabgp.reactor.api import API
from exabgp.rib.outgoing import OutgoingRIB

from speaker.exabgp.launcher.batched_attributes import PARSE_FAILURE, batched_attributes
from speaker.exabgp.launcher.grouped_updates import grouped_updates
from speaker.exabgp.launcher.install import apply_fixes
from speaker.exabgp.launcher.lean_remove_self import lean_remove_self
from tests.bgp.exabgp_internals import (
    ORIGINAL_HANDLERS,
    ORIGINAL_REMOVE_SELF,
    ORIGINAL_UPDATES,
    SERVICE,
    Answers,
    api_reactor,
    changes,
    neighbor,
    rendered,
    stock_exabgp,
)

__all__ = ["stock_exabgp"]  # fixture

# -- fix 1: lean_remove_self -------------------------------------------------------------


@pytest.mark.parametrize("local,command", [
    ("2001:db8:ffff::11", "announce attributes next-hop self nlri 2001:db8:1::1/128 "
                          "2001:db8:1::2/128"),
    ("192.0.2.11", "announce attributes next-hop self community [64512:100 64512:200] "
                   "local-preference 150 nlri 198.51.100.1/32 198.51.100.2/32"),
    ("192.0.2.11", "announce attributes next-hop self nlri 198.51.100.0/24"),
    ("192.0.2.11", "announce attributes next-hop 192.0.2.99 nlri 198.51.100.7/32"),
    ("192.0.2.11", "withdraw attributes next-hop self nlri 198.51.100.1/32"),
])
def test_lean_remove_self_equals_original(local: str, command: str) -> None:
    peer = neighbor(local)
    for change in changes(command):
        before = rendered(change)
        expected = ORIGINAL_REMOVE_SELF(peer, change)
        got = lean_remove_self(peer, change)
        assert rendered(got) == rendered(expected)
        assert got.attributes == expected.attributes
        assert rendered(change) == before, "the input change was modified"


# rule N7
def test_next_hop_self_becomes_the_neighbors_address() -> None:
    peer = neighbor("2001:db8:ffff::11")
    (change, *_) = changes("announce attributes next-hop self nlri 2001:db8:1::1/128")
    assert str(lean_remove_self(peer, change).nlri.nexthop) == "2001:db8:ffff::11"


def test_routes_of_one_command_share_one_rewritten_attribute_set() -> None:
    first, second = neighbor("192.0.2.11"), neighbor("192.0.2.12", "192.0.2.12")
    routes = changes("announce attributes next-hop self community [64512:7] nlri "
                     "198.51.100.1/32 198.51.100.2/32 198.51.100.3/32")
    mine = [lean_remove_self(first, c) for c in routes]
    theirs = [lean_remove_self(second, c) for c in routes]
    assert len({id(c.attributes) for c in mine}) == 1
    assert mine[0].attributes is not theirs[0].attributes
    next_hop = Attribute.CODE.NEXT_HOP
    assert str(mine[0].attributes[next_hop]) == "192.0.2.11"
    assert str(theirs[0].attributes[next_hop]) == "192.0.2.12"
    assert all(c.attributes is not routes[0].attributes for c in mine)


# -- fix 2: grouped_updates --------------------------------------------------------------

def rib_with(local: str, commands: list[str]) -> OutgoingRIB:
    """An outgoing RIB holding what `commands` announce, as ExaBGP fills it."""
    peer = neighbor(local)
    rib = OutgoingRIB(False, [(AFI.ipv4, SAFI.unicast), (AFI.ipv6, SAFI.unicast)])
    for command in commands:
        for change in changes(command):
            rib.add_to_rib(lean_remove_self(peer, change))
    return rib


def routes_in(updates) -> list[tuple[str, str]]:
    return sorted((str(nlri), repr(update.attributes)) for update in updates
                  for nlri in update.nlris)


COMMANDS = {
    "2001:db8:ffff::11": [
        "announce attributes next-hop self nlri 2001:db8:1::1/128 2001:db8:1::2/128 "
        "2001:db8:1::3/128",
        "announce attributes next-hop self community [64512:1] nlri 2001:db8:1::4/128",
        "withdraw attributes next-hop self nlri 2001:db8:1::9/128 2001:db8:1::8/128",
    ],
    "192.0.2.11": [
        "announce attributes next-hop self nlri 198.51.100.1/32 198.51.100.2/32",
        "announce attributes next-hop self local-preference 150 nlri 198.51.100.3/32",
        "withdraw attributes next-hop self nlri 198.51.100.9/32",
    ],
}


@pytest.mark.parametrize("local", sorted(COMMANDS))
@pytest.mark.parametrize("grouped", [True, False])
def test_grouped_updates_carry_the_same_routes(local: str, grouped: bool) -> None:
    """Every route and its attributes go out exactly as ExaBGP's own `updates` sends them;
    with grouping, one Update per attribute set, IPv6 included."""
    ours = list(grouped_updates(rib_with(local, COMMANDS[local]), grouped))
    theirs = list(ORIGINAL_UPDATES(rib_with(local, COMMANDS[local]), grouped))
    assert routes_in(ours) == routes_in(theirs)
    if grouped:
        # one Update per attribute set (the withdraws share the plain set; packing
        # them apart from the announces is Update.messages()' job)
        assert len(ours) == len({repr(u.attributes) for u in ours}) == 2
    else:
        assert [len(u.nlris) for u in ours] == [1] * 6 if ":" in local else [1] * 4
    ipv4 = ":" not in local
    if ipv4 or not grouped:  # where ExaBGP groups itself, ours is the very same
        assert [routes_in([u]) for u in ours] == [routes_in([u]) for u in theirs]


def test_rib_is_emptied_by_grouped_updates() -> None:
    rib = rib_with("2001:db8:ffff::11", COMMANDS["2001:db8:ffff::11"])
    assert list(grouped_updates(rib, True))
    assert list(grouped_updates(rib, True)) == []


def hosts(network: str, count: int) -> str:
    """`count` host prefixes of the /64 or /24 `network` (given without its last part)."""
    if ":" in network:
        return " ".join(f"{network}{i:x}/128" for i in range(1, count + 1))
    return " ".join(f"{network}{i}/32" for i in range(1, count + 1))


WIRE_COMMANDS = {
    # 600 /128s with one community: more than one 4096-byte UPDATE can carry
    6: ("2001:db8:ffff::11", "2001:db8:ffff::1", [
        f"announce attributes next-hop self community [64512:1] nlri "
        f"{hosts('2001:db8:1::', 600)}",
        f"announce attributes next-hop self nlri {hosts('2001:db8:3::', 2)}",
        f"withdraw attributes next-hop self nlri {hosts('2001:db8:2::', 2)}",
        "announce attributes next-hop self local-preference 150 nlri 2001:db8:4::/64",
    ]),
    4: ("192.0.2.11", "192.0.2.1", [
        f"announce attributes next-hop self community [64512:1] nlri "
        f"{hosts('198.51.100.', 250)}",
        f"announce attributes next-hop self nlri {hosts('203.0.113.', 2)}",
        "withdraw attributes next-hop self nlri 203.0.113.9/32",
    ]),
}


def updates_through_the_api(family: int) -> tuple[list[Update], Negotiated]:
    """What ExaBGP (as patched or not right now) queues for a peer after WIRE_COMMANDS
    went through its API, and the session they would be encoded for."""
    local, peer_address, commands = WIRE_COMMANDS[family]
    peer = neighbor(local, peer=peer_address)
    reactor, answers = api_reactor(peer)
    for command in commands:
        reactor.api.text(reactor, SERVICE, command)
    while not reactor.asynchronous.ready():
        reactor.asynchronous.run()
    assert answers.answers == ["done"] * len(commands)
    session = Negotiated(peer)
    session.families = [(AFI.ipv4, SAFI.unicast), (AFI.ipv6, SAFI.unicast)]
    session.asn4, session.local_as, session.peer_as = True, peer.local_as, peer.peer_as
    return list(peer.rib.outgoing.updates(True)), session


def wire(updates: list[Update], session: Negotiated) -> list[bytes]:
    """The UPDATE messages ExaBGP's encoder makes of `updates`, as sent."""
    return [message for update in updates for message in update.messages(session)]


def one_update_per_attribute_set(updates: list[Update]) -> list[Update]:
    """ExaBGP's own Updates merged as `group-updates` merges IPv4 ones: all routes with
    one attribute set in one Update."""
    by_set: dict[bytes, list[Update]] = {}
    for update in updates:
        by_set.setdefault(update.attributes.index(), []).append(update)
    return [Update([nlri for update in same for nlri in update.nlris], same[0].attributes)
            for same in by_set.values()]


@pytest.mark.parametrize("family", [6, 4])
def test_grouped_updates_are_the_bytes_exabgps_encoder_makes(
        family: int, stock_exabgp: None) -> None:
    """The same commands through stock ExaBGP and through the patched one: the grouped
    UPDATEs are byte for byte what ExaBGP's encoder makes of ExaBGP's own routes with
    one Update per attribute set (IPv4: exactly what stock ExaBGP sends)."""
    stock, session = updates_through_the_api(family)
    assert apply_fixes() is True
    patched, patched_session = updates_through_the_api(family)
    ours = wire(patched, patched_session)
    assert ours == wire(one_update_per_attribute_set(stock), session)
    if family == 4:
        assert ours == wire(stock, session)
    else:  # stock ExaBGP sends one IPv6 route per UPDATE; ours fill 4096-byte messages
        assert len(ours) < len(wire(stock, session)) and len(ours) >= 4
        assert max(len(message) for message in ours) > 4000


# -- fix 5: batched_attributes -----------------------------------------------------------

PEER_NAME = ("neighbor 192.0.2.1 local-ip 192.0.2.11 local-as 64513 peer-as 64512 "
             "router-id 192.0.2.11 family-allowed in-open")


class FakeReactor(Answers):
    """What an API command handler touches: peers, the configuration it injects into,
    the answers, and the asynchronous queue (run at once). `fail_at` makes the n-th
    injection raise that exception."""

    def __init__(self, fail_at: tuple[int, Exception] | None = None) -> None:
        super().__init__()
        self.injected: list[tuple] = []
        self.configuration = self
        self.processes = self
        self.asynchronous = self
        self.fail_at = fail_at

    def peers(self, _service: str) -> list[str]:
        return [PEER_NAME]

    def inject_change(self, peers: list[str], change) -> bool:
        if self.fail_at is not None and len(self.injected) == self.fail_at[0]:
            raise self.fail_at[1]
        self.injected.append((tuple(peers), rendered(change), int(change.nlri.action)))
        return True

    def schedule(self, _uid: str, _command: str, callback) -> None:
        try:
            for _ in callback:
                pass
        except Exception as exc:  # ExaBGP's ASYNC.run logs it and drops the job
            self.answers.append(f"exception {type(exc).__name__}")


def run_handler(handler, line: str, fail_at: tuple[int, Exception] | None = None,
                failures: list[str] | None = None) -> FakeReactor:
    """`line` through `handler` with ExaBGP's API; its failure log lines into `failures`."""
    environment.setup("")  # what ExaBGP's main() does before it parses anything
    reactor = FakeReactor(fail_at)
    api = API(reactor)
    if failures is not None:
        api.log_failure = lambda message, level="ERR": failures.append(message)
    handler(api, reactor, SERVICE, line)
    return reactor


BATCHED = [
    "neighbor 192.0.2.1 announce attributes next-hop self nlri 198.51.100.1/32 "
    "198.51.100.2/32 198.51.100.0/24",
    "neighbor 192.0.2.1 announce attributes next-hop self community [64512:1 64512:2] "
    "local-preference 150 nlri 2001:db8:1::1/128 2001:db8:1::2/128",
    "neighbor 192.0.2.1 withdraw attributes next-hop self nlri 198.51.100.1/32 "
    "198.51.100.2/32",
    # not for the fast path: ExaBGP's own handler must get them, with the same result
    "neighbor 192.0.2.1 announce attributes next-hop self nlri 198.51.100.1/32",
    "neighbor 192.0.2.1 announce attributes next-hop self nlri 198.51.100.1/24 "
    "198.51.100.2/32",
    "neighbor 192.0.2.1 announce attributes next-hop self nlri 198.51.100.1/32 "
    "2001:db8:1::1/128",
    "neighbor 192.0.2.99 announce attributes next-hop self nlri 198.51.100.1/32 "
    "198.51.100.2/32",
    "neighbor 192.0.2.1 announce attributes next-hop self bogus-attribute nlri "
    "198.51.100.1/32 198.51.100.2/32",
]
FAST = 3  # the first three take the fast path


def handlers(line: str, counting: list[str] | None = None):
    """(ours, ExaBGP's) handler for `line`; ours hands over to ExaBGP's through a
    wrapper that records each command in `counting`."""
    name = "announce attributes" if " announce " in line else "withdraw attributes"
    original = ORIGINAL_HANDLERS[name]

    def counted(*args):
        if counting is not None:
            counting.append(args[-1])
        return original(*args)

    return batched_attributes(name.split()[0], counted), original


@pytest.mark.parametrize("index", range(len(BATCHED)))
def test_batched_attributes_inject_what_exabgp_injects(index: int) -> None:
    line = BATCHED[index]
    handed_over: list[str] = []
    ours, original = handlers(line, handed_over)
    mine, theirs = run_handler(ours, line), run_handler(original, line)
    assert mine.injected == theirs.injected
    assert mine.answers == theirs.answers
    assert bool(handed_over) == (index >= FAST), "fast path taken for the first three only"
    if index < FAST:
        assert len(mine.injected) >= 2 and mine.answers == ["done"]


@pytest.mark.parametrize("index", range(FAST))
@pytest.mark.parametrize("error", [ValueError("bad"), IndexError("short")])
def test_batched_attributes_answer_an_exception_as_exabgp_does(index: int,
                                                               error: Exception) -> None:
    """An exception while the routes go in: the same log line, the same routes injected
    before it and the same `error` answer as ExaBGP's own handler (not silence, which
    leaves the driver waiting for an answer)."""
    line = BATCHED[index]
    ours, original = handlers(line)
    mine_failures: list[str] = []
    theirs_failures: list[str] = []
    mine = run_handler(ours, line, (1, error), mine_failures)
    theirs = run_handler(original, line, (1, error), theirs_failures)
    assert mine.answers == theirs.answers == ["error"]
    assert mine.injected == theirs.injected and len(mine.injected) == 1
    assert mine_failures == theirs_failures == [PARSE_FAILURE]


def test_batched_attributes_answer_any_exception_with_an_error() -> None:
    """Where ExaBGP's handler lets other exceptions end the command unanswered (ASYNC.run
    only logs them), ours answers `error` too: nothing waits for an answer that never
    comes."""
    line = BATCHED[0]
    ours, original = handlers(line)
    mine = run_handler(ours, line, (0, KeyError("gone")), [])
    theirs = run_handler(original, line, (0, KeyError("gone")), [])
    assert mine.answers == ["error"]
    assert theirs.answers == ["exception KeyError"]
