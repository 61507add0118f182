"""Per peer: the routes the speaker wants out and the routes ExaBGP may hold, and the
API commands that bring the second to the first. Pure (no threads, no I/O, no clock):
every rule of "what is sent when" is a table test in tests/pure/test_routebook.py.

Why "held" and not "announced": ExaBGP keeps a peer's API routes across session flaps
and config reloads (cached by the neighbor's name) and loses them only when it
restarts. So a session that comes up needs its full desired set plus withdraws for
whatever is held but no longer desired; later changes go out as differences.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from speaker.bgp import RouteAttrs
from speaker.exabgp.config import (
    DEFAULT_BATCH,
    announce_commands,
    end_of_rib_commands,
    withdraw_commands,
)


@dataclass(frozen=True)
class PeerCommands:
    """The command lines for one peer, and how many prefixes they announce / withdraw."""

    peer: str
    lines: tuple[str, ...]
    announced: int = 0
    withdrawn: int = 0
    full: bool = False  # a whole-set sync (a session came up), not a difference

    @property
    def updates(self) -> int:
        """Prefix announces + withdraws: what `SessionState.updates_sent` counts."""
        return self.announced + self.withdrawn


class RouteBook:
    """Desired and held routes per peer address.

    Always holds: `held(peer)` is exactly what the commands returned so far leave in
    ExaBGP for that peer (announces minus withdraws), until `forget_held` says ExaBGP
    restarted with nothing. Which sessions are up is the caller's knowledge; it passes
    the up peers in, and only those are sent anything (a session that comes up later
    gets its full set from `sync(peer, full=True)`). For every peer in `_in_step`, held
    equals desired: only for those may `change_desired` compare just the changed prefixes.
    Such a peer's held table is, once `sync` made it so, its desired table itself (one
    table, not two equal ones: 100,000 routes are some 5 MiB a copy); `_held[p] is
    _desired[p]` only for a peer in `_in_step`, so whatever changes one table without
    the other (`ahead`, a change for a peer out of step) first makes the held one its own.

    A graceful-restart peer (`set_end_of_rib`) gets End-of-RIB once its full set is out
    after its session came up, and never before the first `set_desired` (a whole plan):
    End-of-RIB makes it drop every route it kept for us that it was not sent again.

    Not thread-safe: the driver calls it under its own lock.
    """

    def __init__(self, batch: int = DEFAULT_BATCH):
        self.batch = batch  # prefixes per command line
        self._desired: dict[str, dict[str, RouteAttrs]] = {}
        self._held: dict[str, dict[str, RouteAttrs]] = {}
        self._in_step: set[str] = set()
        self._end_of_rib: dict[str, tuple[str, ...]] = {}  # graceful-restart peer -> families
        self._planned = False  # set_desired was called: `_desired` is a whole plan
        self._eor_due: set[str] = set()  # came up, End-of-RIB not sent yet

    def set_end_of_rib(self, families: Mapping[str, tuple[str, ...]]) -> None:
        """The peers that get End-of-RIB after their full set, with their families."""
        self._end_of_rib = dict(families)
        self._eor_due &= set(self._end_of_rib)

    def desired(self, peer: str) -> Mapping[str, RouteAttrs]:
        return self._desired.get(peer, {})

    def held(self, peer: str) -> Mapping[str, RouteAttrs]:
        return self._held.get(peer, {})

    def set_desired(self, desired: dict[str, dict[str, RouteAttrs]], up: Iterable[str]
                    ) -> list[PeerCommands]:
        """Replace the desired routes (the book keeps `desired`, it does not copy it);
        the differences for every peer in `up`, in that order."""
        self._desired = desired
        self._planned = True
        self._in_step.clear()  # the whole set is compared
        return [self.sync(peer, full=False) for peer in up]

    def change_desired(self, changes: Mapping[str, Mapping[str, RouteAttrs | None]],
                       up: Iterable[str]) -> list[PeerCommands]:
        """Apply changes to the desired routes (per peer, prefix -> its attributes now,
        None = no longer desired; other prefixes and peers stay as they are); the
        differences for every peer in `up`, in that order. A peer in step is compared
        on the changed prefixes alone, so the cost follows the change, not the tables."""
        up = list(up)
        self._in_step.intersection_update(up)  # a peer that is down misses this change
        stepped = {peer: self._step(peer, table) for peer, table in changes.items()
                   if peer in self._in_step}
        for peer, table in changes.items():
            if peer not in self._in_step:
                desired = self._own_held(peer)
                _apply(desired, table)
        return [stepped.get(peer) or self._step(peer, {}) if peer in self._in_step
                else self.sync(peer, full=False) for peer in up]

    def _own_held(self, peer: str) -> dict[str, RouteAttrs]:
        """`peer`'s desired table, its held table made a copy of its own if it was the
        same table (before one of them changes without the other)."""
        desired = self._desired.setdefault(peer, {})
        if self._held.get(peer) is desired:
            self._held[peer] = dict(desired)
        return desired

    def sync(self, peer: str, full: bool) -> PeerCommands:
        """Withdraws for held-but-not-desired prefixes, then announces: all desired ones
        when `full` (the session just came up), else only new or changed ones."""
        desired = self._desired.get(peer, {})
        held = self._held.get(peer, {})
        withdraw = [p for p in held if p not in desired]
        announce = desired if full else {
            p: a for p, a in desired.items() if held.get(p) != a}
        self._held[peer] = desired  # one table from now on (see the class doc)
        self._in_step.add(peer)
        return self._commands(peer, withdraw, announce, full)

    def _step(self, peer: str, changes: Mapping[str, RouteAttrs | None]) -> PeerCommands:
        """Apply `changes` (prefix -> attrs now, None: gone) to the desired routes of a
        peer whose held set is its desired set, and the difference they make, on the
        changed prefixes alone; held follows in place (and is desired, once synced)."""
        desired = self._desired.setdefault(peer, {})
        held = self._held.setdefault(peer, {})
        withdraw = [p for p, attrs in changes.items() if attrs is None and p in held]
        announce = {p: attrs for p, attrs in changes.items()
                    if attrs is not None and held.get(p) != attrs}
        for prefix in withdraw:
            del held[prefix]
        held.update(announce)
        if held is not desired:
            _apply(desired, changes)
        return self._commands(peer, withdraw, announce, False)

    def _commands(self, peer: str, withdraw: list[str], announce: Mapping[str, RouteAttrs],
                  full: bool) -> PeerCommands:
        lines = [*withdraw_commands(peer, withdraw, self.batch),
                 *announce_commands(peer, announce, self.batch)]
        if full and peer in self._end_of_rib:
            self._eor_due.add(peer)
        if peer in self._eor_due and self._planned:
            lines += end_of_rib_commands(peer, self._end_of_rib[peer])
            self._eor_due.discard(peer)
        return PeerCommands(peer, tuple(lines), len(announce), len(withdraw), full)

    def ahead(self, routes: Mapping[str, Mapping[str, RouteAttrs]],
              up: Collection[str]) -> list[PeerCommands]:
        """Announce these routes now to peers in `up` (only what is not held as is); the
        next `set_desired` decides the whole set and does not send them again."""
        out = []
        for peer, table in routes.items():
            if peer not in up or not table:
                continue
            held = self._held.setdefault(peer, {})
            new = {p: a for p, a in table.items() if held.get(p) != a}
            if not new:
                continue
            if held is self._desired.get(peer):  # it is held now, not desired yet
                held = self._held[peer] = dict(held)
            out.append(PeerCommands(peer, tuple(announce_commands(peer, new, self.batch)),
                                    announced=len(new)))
            held.update(new)
            self._in_step.discard(peer)
        return out

    def withdraw_held(self, peer: str) -> PeerCommands:
        """Withdraw everything held for `peer` (the driver stops, or the peer is removed:
        ExaBGP would resend a removed neighbor's cached routes if it came back)."""
        held = self._held.pop(peer, {})
        self._in_step.discard(peer)
        return PeerCommands(peer, tuple(withdraw_commands(peer, held, self.batch)),
                            withdrawn=len(held))

    def forget_held(self) -> None:
        """ExaBGP restarted: it holds nothing any more (and its sessions start anew)."""
        self._held.clear()
        self._in_step.clear()
        self._eor_due.clear()

    def counts(self, peer: str, up: bool) -> tuple[int, int]:
        """(announced, pending) prefixes of `peer` for metrics: with the session down
        nothing counts as announced and every desired prefix is pending."""
        desired = self._desired.get(peer, {})
        if not up:
            return 0, len(desired)
        held = self._held.get(peer, {})
        if peer in self._in_step:  # held is desired: nothing pending, no pass over both
            return len(held), 0
        return len(held), sum(1 for p, a in desired.items() if held.get(p) != a)


def _apply(table: dict[str, RouteAttrs], changes: Mapping[str, RouteAttrs | None]) -> None:
    """Set each changed prefix to its attributes now (None: drop it)."""
    for prefix, attrs in changes.items():
        if attrs is None:
            table.pop(prefix, None)
        else:
            table[prefix] = attrs


class AckLedger:
    """Per peer, how many held prefixes ExaBGP has acknowledged (what MetalLB's
    `announced_prefixes` means), from the channel's ack count.

    ExaBGP acks each command once it has handled it; acks are only counted, so "the
    first N commands are done" is read as "N acks arrived" (as `Channel.flush` does).
    After each send the driver records (generation, commands sent so far, prefixes
    held for the peer); once that many acks arrived, that held count is acknowledged.
    Always holds: marks are in send order per peer; a mark of an older generation (an
    ExaBGP that exited) never counts. Not thread-safe: the driver calls it under its lock.
    """

    def __init__(self) -> None:
        self._marks: dict[str, deque[tuple[int, int, int]]] = {}
        self._acked: dict[str, int] = {}

    def sent(self, peer: str, generation: int, commands: int, held: int) -> None:
        """Commands up to number `commands` of `generation` leave `held` prefixes."""
        self._marks.setdefault(peer, deque()).append((generation, commands, held))

    def acknowledged(self, peer: str, generation: int, acks: int, held: int) -> int:
        """Prefixes of `peer` acknowledged, given `acks` acks of the current
        `generation`; `held` (what the book holds now) once every mark is acked."""
        marks = self._marks.get(peer)
        while marks and (marks[0][0] != generation or marks[0][1] <= acks):
            mark_generation, _, count = marks.popleft()
            self._acked[peer] = count if mark_generation == generation else 0
        if not marks:
            self._marks.pop(peer, None)
            self._acked[peer] = held
        return self._acked[peer]

    def forget(self) -> None:
        """ExaBGP restarted: nothing is acknowledged any more."""
        self._marks.clear()
        self._acked.clear()
