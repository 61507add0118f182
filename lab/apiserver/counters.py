"""What clients cost the emulator: requests and bytes sent per (user, verb, resource),
and the watch connections opened. `bench/cluster.py` reads them (GET
/_emulator/requests) to say how much API load N speakers put on one API server, per
user as a real API server's Priority and Fairness classifies requests (by user)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

Key = tuple[str, str, str]
"""(user, verb, resource): resource is the plural, with "/status" for the subresource."""


@dataclass
class _Tally:
    requests: int = 0
    bytes_sent: int = 0
    open_watches: int = 0


class RequestCounters:
    """Running totals since the server started; never reset (readers take differences).

    Threads: every request thread calls `request`, `sent` and `watching`; the control endpoint calls
    `snapshot`. One lock guards the table; each call holds it for a dict update only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[Key, _Tally] = {}

    def request(self, key: Key) -> None:
        """One request of `key` arrived (a watch counts once, when it opens)."""
        with self._lock:
            self._tallies.setdefault(key, _Tally()).requests += 1

    def sent(self, key: Key, size: int) -> None:
        """`size` bytes of body went out for a request of `key` (a watch's as they stream)."""
        with self._lock:
            self._tallies.setdefault(key, _Tally()).bytes_sent += size

    def watching(self, key: Key, change: int) -> None:
        """A watch of `key` started streaming (+1) or ended (-1)."""
        with self._lock:
            self._tallies.setdefault(key, _Tally()).open_watches += change

    def snapshot(self) -> list[dict[str, Any]]:
        """Every key's totals, sorted by key."""
        with self._lock:
            return [{"user": user, "verb": verb, "resource": resource,
                     "requests": t.requests, "bytes": t.bytes_sent,
                     "open_watches": t.open_watches}
                    for (user, verb, resource), t in sorted(self._tallies.items())]
