"""The driver's session table: fresh sessions for changed peers, stuck sessions reported
once. Time is stepped by hand; nothing sleeps."""

from __future__ import annotations

from speaker.bgp import PeerSpec
from speaker.exabgp.sessions import SessionTable

PEER, OTHER = "192.0.2.1", "192.0.2.2"


def spec(peer: str = PEER, hold_time: int = 90) -> PeerSpec:
    return PeerSpec(peer, 64512, 64513, "192.0.2.11", "192.0.2.11", hold_time=hold_time)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def table_with(*specs: PeerSpec) -> tuple[SessionTable, Clock]:
    clock = Clock()
    table = SessionTable(clock=clock, wall_clock=clock)
    table.configure({s.peer_address: s for s in specs})
    return table, clock


# -- configuring peers -----------------------------------------------------------------

def test_a_new_peer_starts_idle_and_not_up():
    table, _ = table_with(spec())
    sess = table.get(PEER)
    assert sess is not None and (sess.state, sess.up) == ("idle", False)


def test_an_unchanged_peer_keeps_its_session_a_changed_one_gets_a_fresh_one():
    table, _ = table_with(spec(), spec(OTHER))
    table.set_state(PEER, "up")
    table.set_state(OTHER, "up")
    table.configure({PEER: spec(), OTHER: spec(OTHER, hold_time=6)})
    assert table.get(PEER).up and table.get(OTHER).state == "idle"  # type: ignore[union-attr]


def test_a_removed_peer_has_no_session_and_its_reports_are_ignored():
    table, _ = table_with(spec(), spec(OTHER))
    table.configure({PEER: spec()})
    assert table.get(OTHER) is None
    assert table.set_state(OTHER, "up") is None
    assert table.up_peers() == []


# -- state changes ---------------------------------------------------------------------

def test_down_keeps_its_reason_and_up_keeps_the_last_one():
    table, clock = table_with(spec())
    table.set_state(PEER, "down", "hold timer expired")
    clock.now += 5
    sess = table.set_state(PEER, "up", "ignored")
    assert sess is not None and sess.reason == "hold timer expired" and sess.since == 1005


def test_all_down_leaves_sessions_already_down_untouched():
    table, clock = table_with(spec(), spec(OTHER))
    table.set_state(PEER, "up")
    table.set_state(OTHER, "down", "cease")
    clock.now += 1
    table.all_down("exabgp exited rc=1")
    assert [(a, s.state, s.reason) for a, s in table] == [
        (PEER, "down", "exabgp exited rc=1"), (OTHER, "down", "cease")]
    assert table.get(OTHER).since == 1000  # type: ignore[union-attr]


# -- stuck sessions --------------------------------------------------------------------

def test_a_session_down_longer_than_the_limit_is_reported_once():
    table, clock = table_with(spec())
    clock.now += 10
    assert table.newly_stuck(after=10) == []
    clock.now += 1
    (stuck,) = table.newly_stuck(after=10)
    assert (stuck[0], stuck[2]) == (PEER, 11)
    clock.now += 100
    assert table.newly_stuck(after=10) == []


def test_a_session_that_came_up_is_reported_again_when_it_stays_down_again():
    table, clock = table_with(spec())
    clock.now += 11
    assert len(table.newly_stuck(after=10)) == 1
    table.set_state(PEER, "up")
    table.set_state(PEER, "down", "cease")
    clock.now += 11
    assert [a for a, _, _ in table.newly_stuck(after=10)] == [PEER]


def test_an_up_session_is_never_stuck():
    table, clock = table_with(spec())
    table.set_state(PEER, "up")
    clock.now += 1000
    assert table.newly_stuck(after=10) == []
