"""`--bgp-backend none`, for benchmarks only: a BGP backend that speaks no BGP and starts
no ExaBGP. It keeps the routes the speaker hands it, as if every peer accepted them at
once, and logs one `bgp_routes_held` line per peer whose table changed. `bench/cluster.py`
runs 100 speakers on one machine with it (100 ExaBGPs would not fit) and reads those
lines to see when each node's plan is final. Never for a real node: nothing is announced.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping

from metallb.logs import log_event
from speaker.bgp import BGPBackend, OnEvent, PeerSpec, RouteAttrs, SessionState

log = logging.getLogger("metallb.speaker.no_bgp")


class NoBGPBackend:
    """A `speaker.bgp.BGPBackend` that records: every configured session is "up" and
    holds exactly the last desired routes (announced = held, pending = 0).

    Threads: any thread may call any method (the protocol's rule); one lock guards the
    peers and the tables. `on_event` is never called: no session ever changes state.
    """

    def __init__(self, node_name: str, on_event: OnEvent | None = None) -> None:
        self.node_name = node_name
        self._lock = threading.Lock()
        self._peers: dict[str, float] = {}  # address -> time.time() it was configured
        self._tables: dict[str, dict[str, RouteAttrs]] = {}
        self._updates: dict[str, int] = {}

    def start(self) -> BGPBackend:
        log_event(log, "warn", "bgp_backend_none", node=self.node_name,
                  detail="benchmark backend: no BGP is spoken, routes are only recorded")
        return self

    def stop(self, withdraw: bool = True) -> None:
        with self._lock:
            if withdraw:
                self._replace({peer: {} for peer in self._tables})
            self._peers.clear()

    def set_peers(self, peers: Iterable[PeerSpec]) -> None:
        with self._lock:
            wanted = {spec.peer_address for spec in peers}
            now = time.time()
            self._peers = {addr: self._peers.get(addr, now) for addr in wanted}

    def set_routes(self, routes: Mapping[str, Mapping[str, RouteAttrs]],
                   canonical: bool = False) -> None:
        with self._lock:
            self._replace({peer: dict(routes.get(peer, {}))
                           for peer in set(routes) | set(self._tables)})

    def change_routes(self, changes: Mapping[str, Mapping[str, RouteAttrs | None]]) -> None:
        with self._lock:
            tables = {}
            for peer, table in changes.items():
                held = dict(self._tables.get(peer, {}))
                for prefix, attrs in table.items():
                    if attrs is None:
                        held.pop(prefix, None)
                    else:
                        held[prefix] = attrs
                tables[peer] = held
            self._replace(tables)

    def announce_ahead(self, routes: Mapping[str, Mapping[str, RouteAttrs]]) -> None:
        """Nothing to send ahead: `set_routes` follows with the whole plan."""

    def sessions(self) -> dict[str, SessionState]:
        with self._lock:
            return {addr: SessionState(
                peer=addr, state="up", up=True, reason=None, since=since,
                updates_sent=self._updates.get(addr, 0),
                announced_prefixes=len(self._tables.get(addr, {})), pending_prefixes=0)
                for addr, since in self._peers.items()}

    def teardown(self, peer: str) -> bool:
        return False  # no session to reset

    def busy(self) -> bool:
        return False

    def held(self) -> dict[str, dict[str, RouteAttrs]]:
        """A copy of the routes held per peer (tests)."""
        with self._lock:
            return {peer: dict(table) for peer, table in self._tables.items()}

    def _replace(self, tables: dict[str, dict[str, RouteAttrs]]) -> None:
        """Take these peers' new tables (lock held); count and log what changed."""
        for peer, table in tables.items():
            old = self._tables.get(peer, {})
            changed = len(old.keys() ^ table.keys()) + sum(
                1 for prefix in old.keys() & table.keys() if old[prefix] != table[prefix])
            if not changed:
                continue
            self._updates[peer] = self._updates.get(peer, 0) + changed
            if table:
                self._tables[peer] = table
            else:
                self._tables.pop(peer, None)
            log_event(log, "info", "bgp_routes_held", node=self.node_name, peer=peer,
                      prefixes=len(table), changed=changed)
