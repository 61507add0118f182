"""The session table: every configured peer's session as ExaBGP last reported it, and
which sessions stay down too long. Pure: both clocks are injected, so the rules (a
changed peer gets a fresh session, a stuck session is reported once) are table tests
in tests/pure/test_exabgp_sessions.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from speaker.bgp import PeerSpec


@dataclass
class Session:
    """One configured peer's session. `since` is wall-clock time (what status shows),
    `since_mono` the monotonic time stuck-session checks measure from."""

    spec: PeerSpec
    since: float
    since_mono: float
    state: str = "idle"  # "idle" (never connected), "connected", "up", "down"
    reason: str | None = None  # of the last "down"
    updates: int = 0  # prefix announces + withdraws sent in this session's lifetime
    warned: bool = False  # reported as stuck since it was last up

    @property
    def up(self) -> bool:
        return self.state == "up"


class SessionTable:
    """Sessions by peer address.

    Always holds: exactly one session per configured peer; `configure` gives a changed
    or new peer a fresh session (ExaBGP resets it) and keeps unchanged ones as they
    are. A session is reported stuck at most once per time it is down.
    Not thread-safe: the driver calls it under its lock.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time):
        self._clock = clock
        self._wall_clock = wall_clock
        self._sessions: dict[str, Session] = {}

    def configure(self, specs: Mapping[str, PeerSpec]) -> None:
        """The configured peers are now `specs` (peer address -> spec)."""
        sessions = {}
        for addr, spec in specs.items():
            old = self._sessions.get(addr)
            sessions[addr] = old if old is not None and old.spec == spec else Session(
                spec, since=self._wall_clock(), since_mono=self._clock())
        self._sessions = sessions

    def get(self, addr: str) -> Session | None:
        return self._sessions.get(addr)

    def __iter__(self) -> Iterator[tuple[str, Session]]:
        return iter(list(self._sessions.items()))

    def up_peers(self) -> list[str]:
        return [addr for addr, sess in self._sessions.items() if sess.up]

    def set_state(self, addr: str, state: str, reason: str | None = None) -> Session | None:
        """Record what ExaBGP reported; None for a peer that is not configured."""
        sess = self._sessions.get(addr)
        if sess is not None:
            self._set(sess, state, reason)
        return sess

    def all_down(self, reason: str) -> None:
        """Every session not down already goes down with `reason` (ExaBGP exited or
        the driver stops)."""
        for sess in self._sessions.values():
            if sess.state != "down":
                self._set(sess, "down", reason)

    def newly_stuck(self, after: float) -> list[tuple[str, Session, float]]:
        """(peer, session, seconds down) for sessions not up for more than `after`
        seconds that were not reported yet; they count as reported from now on."""
        now = self._clock()
        stuck = []
        for addr, sess in self._sessions.items():
            if not sess.up and not sess.warned and now - sess.since_mono > after:
                sess.warned = True
                stuck.append((addr, sess, now - sess.since_mono))
        return stuck

    def _set(self, sess: Session, state: str, reason: str | None) -> None:
        sess.state = state
        sess.reason = reason if state == "down" else sess.reason
        sess.since = self._wall_clock()
        sess.since_mono = self._clock()
        if state == "up":
            sess.warned = False
