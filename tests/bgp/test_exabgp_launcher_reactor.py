"""What the launcher's reactor fixes do, on ExaBGP 4.2.25's real reactor, API handlers and
asynchronous queue (no session, no clock): fix 3 `no_sleep_while_busy` (no poll timeout
while an API command is pending) and fix 4 `routes_per_turn` (1000 routes of a command
per reactor turn, where ExaBGP moves 50)."""

from __future__ import annotations

import pytest

from speaker.exabgp.launcher.install import apply_fixes
from speaker.exabgp.launcher.routes_per_turn import ASYNC_ROUTES_PER_TURN
from tests.bgp.exabgp_internals import (
    ORIGINAL_ASYNC_LIMIT,
    SERVICE,
    api_reactor,
    neighbor,
    stock_exabgp,
)

__all__ = ["stock_exabgp"]  # fixture

IDLE_SLEEP_MS = 10  # what Reactor.run passes when no peer has work (speed 1.0 / 100)


class RecordingPoller:
    """`select.poll` as the reactor uses it: the timeout of every poll, no fd ready."""

    def __init__(self) -> None:
        self.timeouts: list[int] = []

    def poll(self, timeout: int) -> list:
        self.timeouts.append(timeout)
        return []


def command(count: int) -> str:
    return ("neighbor 2001:db8:ffff::1 announce attributes next-hop self nlri "
            + " ".join(f"2001:db8:1::{i:x}/128" for i in range(1, count + 1)))


def reactor_with_peer():
    peer = neighbor("2001:db8:ffff::11", peer="2001:db8:ffff::1")
    reactor, answers = api_reactor(peer)
    reactor._poller = RecordingPoller()
    return reactor, answers, peer


def wait_for_io(reactor) -> int:
    """One I/O wait of the reactor's turn, as `Reactor.run` makes it: the poll timeout."""
    list(reactor._wait_for_io(IDLE_SLEEP_MS))
    return reactor._poller.timeouts[-1]


# -- fix 3: no sleep while API work is pending -------------------------------------------

@pytest.mark.parametrize("patched", [True, False])
def test_reactor_polls_without_timeout_while_a_command_is_pending(
        patched: bool, stock_exabgp: None) -> None:
    if patched:
        assert apply_fixes() is True
    reactor, answers, _peer = reactor_with_peer()
    assert wait_for_io(reactor) == IDLE_SLEEP_MS, "idle: sleeps as before"
    reactor.api.text(reactor, SERVICE, command(2500))  # > 2 turns of 1000
    turns = []
    while not reactor.asynchronous.ready():
        reactor.asynchronous.run()
        turns.append(wait_for_io(reactor))
    assert answers.answers == ["done"]
    # every wait between two slices of the command: no sleep when patched, 10 ms stock
    assert turns[:-1] and set(turns[:-1]) == {0 if patched else IDLE_SLEEP_MS}
    assert turns[-1] == IDLE_SLEEP_MS, "the command done: sleeps again"


# -- fix 4: 1000 routes per reactor turn -------------------------------------------------

@pytest.mark.parametrize("patched", [True, False])
def test_one_reactor_turn_moves_up_to_1000_routes_of_a_command(
        patched: bool, stock_exabgp: None) -> None:
    """One turn of ExaBGP's queue puts a whole batch (up to 1000 routes) of a command into
    the peer's RIB, and the peer sends it as one grouped Update; stock ExaBGP moves 50."""
    if patched:
        assert apply_fixes() is True
    per_turn = ASYNC_ROUTES_PER_TURN if patched else ORIGINAL_ASYNC_LIMIT
    reactor, answers, peer = reactor_with_peer()
    reactor.api.text(reactor, SERVICE, command(1200))
    sent = []
    while not reactor.asynchronous.ready():
        reactor.asynchronous.run()
        sent.append([len(u.nlris) for u in peer.rib.outgoing.updates(True)])
    assert answers.answers == ["done"]
    if patched:
        assert sent == [[1000], [200]]
    else:  # 50 routes per turn, one per Update (ExaBGP groups IPv4 only)
        assert sent[:1200 // per_turn] == [[1] * per_turn] * (1200 // per_turn)
    assert sum(map(sum, sent)) == 1200
