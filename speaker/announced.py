"""Which services this node announces, kept up to date from the plan's announced
(service, address) pairs: what the `nodeAssigned` events, the announced / withdrawn
log lines and the `metallb_speaker_announced` series follow.

An incremental plan says which pairs it added and removed (`PlanDelta`), so the cost
of a change is the number of pairs it touched; only a full plan is compared whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Pair = tuple[str, str]  # (service key, ip)


@dataclass(frozen=True)
class AnnouncedChange:
    """Pairs that appeared and went, and the services that started or stopped being
    announced by it (sorted)."""

    added: frozenset[Pair]
    removed: frozenset[Pair]
    started: list[str]
    stopped: list[str]


class AnnouncedServices:
    """The announced pairs, and per service how many of its addresses are announced.

    Always holds: `_count[key]` is the number of pairs of `key` in `_pairs`, and only
    services with at least one pair have an entry. Not thread-safe: the speaker's sync
    thread owns it. Pure: no I/O.
    """

    def __init__(self) -> None:
        self._pairs: set[Pair] = set()
        self._count: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._pairs)

    def replace(self, announced: Iterable[Pair]) -> AnnouncedChange:
        """After a full plan: exactly these pairs are announced (a pass over all)."""
        announced = frozenset(announced)
        return self.change(announced - self._pairs, self._pairs - announced)

    def change(self, added: Iterable[Pair], removed: Iterable[Pair]) -> AnnouncedChange:
        """After an incremental plan: these pairs appeared (none of them was announced)
        and these went (each was); costs the pairs named."""
        added, removed = frozenset(added), frozenset(removed)
        had = {key: key in self._count for key, _ in (*added, *removed)}
        self._pairs.difference_update(removed)
        self._pairs.update(added)
        for key, _ in added:
            self._count[key] = self._count.get(key, 0) + 1
        for key, _ in removed:
            self._count[key] -= 1
            if not self._count[key]:
                del self._count[key]
        started = sorted(k for k, before in had.items() if not before and k in self._count)
        stopped = sorted(k for k, before in had.items() if before and k not in self._count)
        return AnnouncedChange(added, removed, started, stopped)
