"""BFD beside the BGP backend: the speaker's side of speaker/bfd/.

The BFD process (`speaker.bfd.client.BfdClient`) runs the sessions of every planned
peer that has a `bfd-profile`, in the namespace ExaBGP runs in. When one of them goes
from up to down, the BGP session with that peer is reset at once (the backend's
`teardown`), instead of waiting for the hold time; the backend re-establishes it by
itself and re-announces when it is up again. `bfd_sessions` (pure) decides the
sessions; `BfdWiring` does the I/O.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from prometheus_client import CollectorRegistry

from metallb.config.model import Config, Peer
from metallb.logs import format_event, log_event
from metallb.metrics import BFDMetrics
from speaker.bfd.client import BfdClient, BfdEvent, BfdProcessError, counters_from_stats
from speaker.bfd.spec import SessionSpec, spec_for_peer
from speaker.bgp import PeerSpec
from speaker.settings import SpeakerSettings

log = logging.getLogger("metallb.speaker")


def bfd_sessions(config: Config | None, peers: Mapping[str, Peer],
                 bgp: Mapping[str, PeerSpec]) -> tuple[list[SessionSpec], list[str]]:
    """The BFD sessions of the planned peers that run a BGP session (`bgp`): one per
    peer with a `bfd-profile`, in peer-address order, from the BGP session's local
    address (the router matches the two by address). A peer whose session cannot be
    built is left out with a problem; the others are unaffected."""
    if config is None:
        return [], []
    specs: list[SessionSpec] = []
    problems: list[str] = []
    for addr in sorted(peers):
        peer = peers[addr]
        if peer.bfd_profile is None or addr not in bgp:
            continue
        profile = config.bfd_profile(peer.bfd_profile)
        if profile is None:  # the parsers refuse this; a hand-built config may not
            problems.append(f"peer {addr}: bfd-profile {peer.bfd_profile} does not exist")
            continue
        try:
            specs.append(replace(spec_for_peer(peer, profile), local=bgp[addr].local_address))
        except ValueError as err:
            problems.append(f"peer {addr}: bfd-profile {peer.bfd_profile}: {err}")
    return specs, problems


def is_failure(event: BfdEvent) -> bool:
    """A session that was up went down: the router (or the path to it) failed, or it
    said so. Our own AdminDown (a session removed, the process stopping) is no failure."""
    return (event.kind == "session" and event.data.get("old") == "up"
            and event.state == "down")


class BfdWiring:
    """Runs the speaker's BFD process and turns its failures into BGP teardowns.

    Always holds (once the worker caught up): the process runs while any session is
    wanted and runs exactly the sessions of the last `set_sessions`; a process that
    exited is started again after a backoff; the metrics show the last stats read.
    Threads: the owner calls `start` and `stop` (stop sends AdminDown to every router,
    so call it before the backend withdraws); the sync thread calls `set_sessions`,
    which never blocks; the client's reader thread calls `_on_event`, which only logs
    and queues. One worker thread ("speaker-bfd") does everything that may block:
    starting the process, sending it the sessions, `teardown` through the backend
    (teardowns first, then the rest), reading the stats for the metrics. `_lock`
    guards `_wanted`, `_teardowns` and `_exited`; the rest belongs to the worker.
    """

    def __init__(self, settings: SpeakerSettings, registry: CollectorRegistry,
                 teardown: Callable[[str], bool],
                 clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.teardown = teardown
        self.clock = clock
        self.metrics = BFDMetrics(registry)
        self.client = BfdClient(
            netns=settings.exabgp_netns, on_event=self._on_event,
            stderr_path=Path(settings.state_dir) / "bfd.log",
            realtime_priority=settings.bfd_realtime_priority, log_level="warn")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._wanted: list[SessionSpec] = []
        self._teardowns: list[str] = []
        self._exited = False
        self._sent: list[SessionSpec] | None = None  # what the running process runs
        self._started_at = 0.0
        self._backoff = settings.bfd_restart_backoff[0]
        self._start_after = 0.0  # no (re)start before this clock value
        self._thread: threading.Thread | None = None
        self.teardowns_sent = 0  # for tests and debugging

    # -- owner ---------------------------------------------------------------------------
    def start(self) -> BfdWiring:
        self._thread = threading.Thread(target=self._loop, name="speaker-bfd", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """AdminDown to every router (an administrative down, not a failure), then the
        process ends; the worker stops first so that nothing restarts it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.sync_stop_timeout)
        self.client.stop(timeout=self.settings.withdraw_timeout)
        self.metrics.publish({})

    # -- sync thread ---------------------------------------------------------------------
    def set_sessions(self, specs: list[SessionSpec]) -> None:
        """Exactly these sessions from now on (the worker sends them)."""
        with self._lock:
            if specs == self._wanted:
                return
            self._wanted = list(specs)
        self._wake.set()

    # -- the client's reader thread ------------------------------------------------------
    def _on_event(self, event: BfdEvent) -> None:
        if event.kind == "session":
            log_event(log, "info", "bfd_session_state", node=self.settings.node_name,
                      peer=event.data.get("peer"), multihop=event.data.get("multihop"),
                      state=event.state, old=event.data.get("old"),
                      diag=event.data.get("diag"))
            if is_failure(event) and not self._stop.is_set():
                with self._lock:
                    self._teardowns.append(str(event.data["peer"]))
                self._wake.set()
        elif event.kind == "exited" and not self._stop.is_set():
            with self._lock:
                self._exited = True
            self._wake.set()
        elif event.kind == "error":
            log_event(log, "error", "bfd_command_refused", node=self.settings.node_name,
                      error=event.data.get("error"))

    # -- worker --------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.metrics_refresh)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._tear_down()
                self._run()
                self._publish()
            except Exception:  # a bug must not stop the teardowns to come
                log.exception("%s", format_event("bfd_worker_failed",
                                                 {"node": self.settings.node_name}))

    def _tear_down(self) -> None:
        with self._lock:
            peers, self._teardowns = self._teardowns, []
        for peer in dict.fromkeys(peers):
            sent = self.teardown(peer)
            self.teardowns_sent += sent
            log_event(log, "warn", "bfd_peer_down_bgp_reset", node=self.settings.node_name,
                      peer=peer, teardown="sent" if sent else "no_session")

    def _run(self) -> None:
        """Start (or restart) the process when sessions are wanted, then send them."""
        with self._lock:
            wanted, exited, self._exited = list(self._wanted), self._exited, False
        if exited:
            ran = self.clock() - self._started_at
            if ran > self.settings.exabgp_stable_after:
                self._backoff = self.settings.bfd_restart_backoff[0]
            self._start_after = self.clock() + self._backoff
            log_event(log, "warn", "bfd_process_restart", node=self.settings.node_name,
                      ran_s=round(ran, 1), restart_in_s=self._backoff)
            self._backoff = min(self._backoff * 2, self.settings.bfd_restart_backoff[1])
            self._sent = None
        if not self.client.running():
            self._sent = None
            if not wanted:
                return
            wait = self._start_after - self.clock()
            if wait > 0:
                self._stop.wait(wait)
                if self._stop.is_set():
                    return
            if not self._start_process():
                return
        if wanted != self._sent:
            try:
                self.client.set_sessions(wanted)
            except BfdProcessError as err:  # it died: its "exited" event restarts it
                log_event(log, "warn", "bfd_sessions_not_sent", node=self.settings.node_name,
                          error=err)
                return
            self._sent = wanted
            log_event(log, "info", "bfd_sessions_set", node=self.settings.node_name,
                      peers=",".join(s.peer for s in wanted) or None)

    def _start_process(self) -> bool:
        Path(self.settings.state_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        self._started_at = self.clock()
        try:
            self.client.start()
        except (BfdProcessError, OSError) as err:
            self._start_after = self.clock() + self._backoff
            self._backoff = min(self._backoff * 2, self.settings.bfd_restart_backoff[1])
            log_event(log, "error", "bfd_start_failed", node=self.settings.node_name,
                      error=err, retry_in_s=self._start_after - self.clock())
            self._wake.set()
            return False
        return True

    def _publish(self) -> None:
        if not self.client.running():
            self.metrics.publish({})
            return
        try:
            stats = self.client.stats(timeout=self.settings.bfd_stats_timeout)
        except BfdProcessError:
            return  # frozen or gone: keep the last figures until it answers again
        self.metrics.publish(counters_from_stats(stats))


__all__ = ["BfdWiring", "bfd_sessions", "is_failure"]
