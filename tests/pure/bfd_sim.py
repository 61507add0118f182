"""Two BFD sessions wired together on a simulated clock, for the pure tests.

Packets travel with a fixed delay; a side can be silenced (frozen or cut off) from a
given time on. No sockets, no sleeping: time jumps from one deadline to the next.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from speaker.bfd.packet import ControlPacket, State, decode
from speaker.bfd.session import Output, Session, SessionConfig, StateChange


@dataclass
class Pair:
    a: Session
    b: Session
    delay: float = 0.001
    now: float = 0.0
    silent_from: dict[str, float] = field(default_factory=dict)  # side -> time
    # Sides that behave like FRR's bfdd on the wire: Required Min RX of 1 s while not Up,
    # the profile's once Up (then the peer must speed up at once).
    frr_like: set[str] = field(default_factory=set)
    changes: list[tuple[float, str, StateChange]] = field(default_factory=list)
    _wire: list[tuple[float, int, str, bytes]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)

    @classmethod
    def of(cls, config_a: SessionConfig, config_b: SessionConfig | None = None,
           seed: int = 0, **kwargs: object) -> Pair:
        rng = random.Random(seed)
        a = Session(config_a, 1111, 0.0, rand=rng.random)
        b = Session(config_b or config_a, 2222, 0.0, rand=rng.random)
        return cls(a, b, **kwargs)  # type: ignore[arg-type]

    def side(self, name: str) -> Session:
        return self.a if name == "a" else self.b

    def _silent(self, name: str) -> bool:
        return name in self.silent_from and self.now >= self.silent_from[name]

    def _emit(self, sender: str, packets: tuple[ControlPacket, ...]) -> None:
        if self._silent(sender):
            return
        target = "b" if sender == "a" else "a"
        if sender in self.frr_like:
            packets = tuple(
                p if p.state == State.UP else replace(p, required_min_rx=1_000_000)
                for p in packets)
        for pkt in packets:
            heapq.heappush(self._wire, (self.now + self.delay, next(self._seq), target,
                                        pkt.encode()))

    def _record(self, name: str, change: StateChange | None) -> None:
        if change is not None:
            self.changes.append((self.now, name, change))

    def run_until(self, end: float) -> None:
        """Advance the clock to `end`, delivering packets and firing deadlines in order."""
        while True:
            candidates: list[tuple[float, int, str]] = []
            for order, name in enumerate(("a", "b")):
                deadline = self.side(name).next_deadline()
                if deadline is not None and not self._silent(name):
                    candidates.append((deadline, order, name))
            if self._wire:
                candidates.append((self._wire[0][0], -1, "wire"))
            if not candidates:
                self.now = end
                return
            when, _order, what = min(candidates)
            if when > end:
                self.now = end
                return
            self.now = max(self.now, when)
            if what == "wire":
                _t, _s, target, data = heapq.heappop(self._wire)
                if self._silent(target):
                    continue
                out = self.side(target).on_packet(decode(data), self.now)
            else:
                target = what
                out = self.side(target).on_timer(self.now)
            self._record(target, out.change)
            self._emit(target, out.packets)

    def apply(self, name: str, out_fn: Callable[[float], Output]) -> None:
        out = out_fn(self.now)
        self._record(name, out.change)
        self._emit(name, out.packets)

    def both_up(self) -> bool:
        return self.a.state == State.UP and self.b.state == State.UP
