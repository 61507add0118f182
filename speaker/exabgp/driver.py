"""The ExaBGP driver: owns one ExaBGP child and keeps every peer's announced routes equal
to the desired state the speaker hands it. It composes the package's parts: the
supervisor (the process), the channel (the API socket and acks), the route book (what
to send), the session table and the config renderer; it only decides the order in
which the parts are called, and turns what ExaBGP reports into `DriverEvent`s.

Public API (the speaker daemon uses it as a `speaker.bgp.BGPBackend`):
    driver = ExaBGPDriver(state_dir, ["192.0.2.11", "2001:db8:ffff::11"], netns=None,
                          on_event=callback)
    driver.start()
    driver.set_peers([PeerSpec(...) or PeerSpec.from_peer(peer, node_addresses)])
    driver.set_routes({"192.0.2.1": {"198.51.100.10/32": RouteAttrs()}})
    driver.change_routes({"192.0.2.1": {"198.51.100.10/32": None}})
    driver.sessions()  -> {peer: SessionState}
    driver.teardown("192.0.2.1")  # reset one session now (BFD saw the peer down)
    driver.stop(withdraw=True)
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from metallb.logs import format_event, log_event
from metallb.wait import WaitTimeout, poll_until
from speaker.bgp import (
    BackendError,
    DriverEvent,
    PeerSpec,
    PeerSpecError,
    RouteAttrs,
    SessionState,
    normalise_prefix,
)
from speaker.exabgp.channel import SOCKET_PATH_MAX, Channel
from speaker.exabgp.config import exabgp_env, render_config
from speaker.exabgp.events import Ack, Event, Other, Shutdown, StateChange
from speaker.exabgp.logfile import BoundedLog, open_private, redactor
from speaker.exabgp.routebook import AckLedger, PeerCommands, RouteBook
from speaker.exabgp.sessions import Session, SessionTable
from speaker.exabgp.supervisor import Supervisor, default_exabgp_cmd
from speaker.settings import SpeakerSettings as DEFAULTS

log = logging.getLogger(__name__)

RELAY_SCRIPT = Path(__file__).with_name("relay.py")
CEASE_BFD_DOWN = 10  # Cease subcode "BFD Down" (RFC 9384), what FRR's bgpd sends too


class ExaBGPError(BackendError):
    """ExaBGP could not be started or driven; the message names the log file to read."""


class ExaBGPDriver:
    """Keeps one ExaBGP's sessions and routes equal to what `set_peers` and `set_routes`
    last asked for.

    Always holds: a session is in the table exactly while its peer is configured (a
    changed spec gets a fresh one); routes go only to sessions that are up, and a
    session that comes up gets its full set (the route book knows what ExaBGP holds).
    Threads: the owner calls `start` and `stop`; the daemon's sync thread calls
    `set_peers`, `set_routes`, `change_routes`, `announce_ahead`, `sessions`; any
    thread may call `busy`, `flush`, `pid`, `teardown` (the speaker's BFD thread
    does). The channel's reader thread reports session
    changes and acks, its accept thread the relay's connection, the supervisor's thread
    exits and stuck sessions, the supervisor's log readers ExaBGP's output (redacted
    with `_secrets`, every password ever configured, replaced whole under the lock and
    read without it).
    The lock (re-entrant) guards the peers, the session table, the route book, the ack
    ledger and the config serials, and makes "decide commands + queue them" one step.
    `on_event` runs on those threads without the lock: it must not block.
    """

    def __init__(
        self,
        state_dir: str | Path,
        node_addresses: Sequence[str] | str,
        exabgp_cmd: Sequence[str] | None = None,
        netns: str | None = None,
        on_event: Callable[[DriverEvent], None] | None = None,
        group_updates: bool = DEFAULTS.exabgp_group_updates,
        batch: int = DEFAULTS.exabgp_batch,
        restart_backoff: tuple[float, float] = DEFAULTS.exabgp_restart_backoff,
        establish_warn_after: float = DEFAULTS.establish_warn_after,
        log_level: str = "INFO",
        stable_after: float = DEFAULTS.exabgp_stable_after,
        log_rotate_bytes: int = DEFAULTS.exabgp_log_rotate_bytes,
        start_timeout: float = DEFAULTS.exabgp_start_timeout,
        withdraw_timeout: float = DEFAULTS.withdraw_timeout,
        ack_timeout: float = DEFAULTS.exabgp_ack_timeout,
        poll_interval: float = DEFAULTS.exabgp_poll_interval,
        node_name: str | None = None,
    ):
        """Keyword tunables default to (and are documented as) the `exabgp_*`,
        `withdraw_timeout` and `establish_warn_after` fields of `SpeakerSettings`."""
        self.state_dir = Path(state_dir).absolute()
        self.node_addresses = (
            [node_addresses] if isinstance(node_addresses, str) else list(node_addresses))
        self.exabgp_cmd = list(exabgp_cmd or default_exabgp_cmd())
        self.netns = netns
        self.node_name = node_name  # only for the logs: which node's session this is
        self.on_event = on_event
        self.group_updates = group_updates
        self.batch = batch
        self.restart_backoff = restart_backoff
        self.establish_warn_after = establish_warn_after
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.withdraw_timeout = withdraw_timeout
        self.ack_timeout = ack_timeout
        self.socket_path = self.state_dir / "api.sock"
        self.config_path = self.state_dir / "exabgp.conf"
        self.log_path = self.state_dir / "exabgp.log"
        if len(str(self.socket_path)) > SOCKET_PATH_MAX:
            raise ExaBGPError(f"state dir {self.state_dir} is too long for a Unix socket path "
                              f"(max {SOCKET_PATH_MAX - 9} characters); use a shorter one")

        self._lock = threading.RLock()
        self._peers: dict[str, PeerSpec] = {}
        self._sessions = SessionTable()
        self._book = RouteBook(batch)
        self._acks = AckLedger()
        self._config_serial = 0  # +1 per config write
        self._loaded_serial = 0  # config serial the running ExaBGP has loaded
        self._stopping = threading.Event()
        self._channel = Channel(self.socket_path, on_connected=self._reload_if_ready,
                                on_event=self._handle)
        self._secrets: tuple[str, ...] = ()  # every password configured: never on disk
        self.log = BoundedLog(self.log_path, log_rotate_bytes,
                              redactor(lambda: self._secrets))
        self._supervisor = Supervisor(
            self.exabgp_cmd, self.log, {**os.environ, **exabgp_env(log_level)},
            netns=netns, restart_backoff=restart_backoff, stable_after=stable_after,
            poll_interval=poll_interval)

    # -- lifecycle -------------------------------------------------------------------
    def start(self, timeout: float | None = None) -> ExaBGPDriver:
        """Start ExaBGP and return once its API relay is connected (within `timeout`,
        default `start_timeout`)."""
        timeout = self.start_timeout if timeout is None else timeout
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)  # the config holds passwords, the socket drives BGP
        self._channel.open()
        try:
            try:
                self._launch()
            except OSError as exc:
                raise ExaBGPError(f"cannot run {' '.join(self.exabgp_cmd)}: {exc}; install "
                                  "exabgp (pip install exabgp==4.2.25)") from exc
            poll_until(lambda: self._channel.connected or self._supervisor.exited(), timeout,
                       what="ExaBGP's API relay to connect")
            if not self._channel.connected:
                self._supervisor.drain(1.0)
                raise ExaBGPError(f"ExaBGP exited at start (rc={self._supervisor.returncode()})"
                                  f": {self.log_tail()} (log: {self.log_path})")
        except BaseException:
            self.stop(withdraw=False)
            raise
        self._supervisor.watch(self._stopping, on_exit=self._on_exabgp_exit,
                               relaunch=self._launch, tick=self._warn_stuck_sessions)
        return self

    def _launch(self) -> None:
        """Write the config and start a new ExaBGP (a new generation)."""
        with self._lock:
            self._write_config()
            generation = self._channel.new_generation()
            self._loaded_serial = self._config_serial
            pid = self._supervisor.spawn(str(self.config_path))
            peers = len(self._peers)
        log_event(log, "info", "exabgp_started", pid=pid, generation=generation,
                  netns=self.netns, peers=peers, config=self.config_path)
        self._emit(DriverEvent("exabgp_started", detail=f"pid={pid}"))

    def _write_config(self) -> None:
        relay = [sys.executable, str(RELAY_SCRIPT), str(self.socket_path)]
        text = render_config(self._peers.values(), relay, group_updates=self.group_updates)
        tmp = self.config_path.with_suffix(".tmp")
        fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)  # it holds the MD5 passwords
        with os.fdopen(fd, "w") as out:
            out.write(text)
        tmp.replace(self.config_path)
        self._config_serial += 1

    @property
    def pid(self) -> int | None:
        """PID of the running ExaBGP (None when not running)."""
        return self._supervisor.pid

    @property
    def restarts(self) -> int:
        return self._supervisor.restarts

    def log_tail(self, lines: int = 5) -> str:
        return self._supervisor.log_tail(lines)

    def stop(self, withdraw: bool = True, timeout: float | None = None) -> None:
        """Withdraw everything (and wait for ExaBGP's acks), then stop ExaBGP by PID;
        each wait takes at most `timeout` (default `withdraw_timeout`).

        Withdraw-then-stop makes the router drop this node at once instead of after the
        hold time. Except to a graceful-restart peer: there, as upstream MetalLB, a stop
        is a restart to ride through, so its routes stay and ExaBGP closes the session
        without a NOTIFICATION (what it does when graceful restart was negotiated); the
        peer keeps them, stale, until we are back or its restart timer runs out.
        Idempotent; never raises for a process that is already gone.
        """
        timeout = self.withdraw_timeout if timeout is None else timeout
        self._stopping.set()
        if withdraw:
            with self._lock:
                withdrawn = 0
                for addr, sess in self._sessions:
                    spec = self._peers.get(addr)
                    if spec is not None and spec.graceful_restart:
                        continue
                    if sess.up and self._book.held(addr):
                        withdrawn += self._send(self._book.withdraw_held(addr)).withdrawn
            if withdrawn:
                try:
                    self.flush(timeout)
                    self._let_peers_send(withdrawn, timeout)
                    log_event(log, "info", "exabgp_withdrawn_all", prefixes=withdrawn)
                except WaitTimeout as exc:
                    log_event(log, "warn", "exabgp_withdraw_unacked", prefixes=withdrawn,
                              error=str(exc))
        self._supervisor.terminate(timeout)
        with self._lock:
            self._sessions.all_down("driver stopped")
        self._channel.close(timeout)
        self._supervisor.join(timeout)

    def _let_peers_send(self, withdrawn: int, timeout: float) -> None:
        """Let ExaBGP's peers write the acked withdraws before it is stopped.

        ExaBGP acks a route command when its RIB has the change; the UPDATE is written
        in a later turn of its reactor, and a SIGTERM seen first discards it (the router
        then drops the routes with the session, not by the withdraw). Each reactor turn
        gives every peer its turn before it reads API commands, so the ack of a no-op
        command (`#`, a comment) sent after the withdraws' acks means the peers had a turn
        since. One turn writes up to 25 UPDATE messages per peer (hundreds of prefixes
        each); one more turn per 500 prefixes keeps a wide margin."""
        for _ in range(1 + withdrawn // 500):
            self._channel.send(["# let the peers send the withdraws"])
            self.flush(timeout)

    def __enter__(self) -> ExaBGPDriver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(withdraw=True)

    # -- desired state ---------------------------------------------------------------
    def set_peers(self, peers: Iterable[PeerSpec]) -> None:
        """Replace the peer set. Changed or new peers get a fresh session (ExaBGP resets
        them); unchanged sessions survive the reload untouched."""
        new: dict[str, PeerSpec] = {}
        for spec in peers:
            if spec.peer_address in new:
                raise PeerSpecError(f"peer {spec.peer_address} is given twice; one session "
                                    "per peer address")
            new[spec.peer_address] = spec
        withdrawn = 0
        with self._lock:
            if new == self._peers:
                return
            removed = set(self._peers) - set(new)
            if self.pid is not None and self._channel.connected:
                # ExaBGP caches a neighbor's routes by name even after it is removed and
                # would resend them if the same neighbor came back: empty it first.
                for addr in removed:
                    withdrawn += self._send(self._book.withdraw_held(addr)).withdrawn
            self._sessions.configure(new)
            self._peers = new
            self._book.set_end_of_rib({addr: spec.address_families
                                       for addr, spec in new.items() if spec.graceful_restart})
            self._secrets = tuple(sorted({*self._secrets, *(
                spec.password for spec in new.values() if spec.password)}))
        if withdrawn:
            try:
                self.flush(self.withdraw_timeout)
            except WaitTimeout as exc:
                log_event(log, "warn", "exabgp_withdraw_unacked", prefixes=withdrawn,
                          error=str(exc))
        with self._lock:
            if not self._supervisor.started:
                return  # start() writes the config
            self._write_config()
            reloaded = self._reload_if_ready()
        log_event(log, "info", "exabgp_peers_set", peers=",".join(sorted(new)) or None,
                  reload="sent" if reloaded else "pending")

    def _reload_if_ready(self) -> bool:
        """SIGUSR1 ExaBGP if its config changed since it loaded it. Only once its relay is
        connected: before that ExaBGP may not have its signal handlers yet (SIGUSR1 would
        kill it); the channel calls this again when the relay connects."""
        with self._lock:
            pid = self.pid
            if (pid is None or not self._channel.connected
                    or self._loaded_serial == self._config_serial):
                return False
            self._loaded_serial = self._config_serial
            os.kill(pid, signal.SIGUSR1)
            return True

    def set_routes(self, routes: Mapping[str, Mapping[str, RouteAttrs]],
                   canonical: bool = False) -> None:
        """Desired routes per peer address; the driver sends only the difference to every
        session that is up (the rest get their full set when they come up).

        `canonical`: every prefix is already in `ipaddress.ip_network` text form (the
        planner builds them so), which saves parsing 10,000 prefixes again per burst.
        """
        desired = {
            peer: dict(table) if canonical else {
                normalise_prefix(prefix): attrs for prefix, attrs in table.items()}
            for peer, table in routes.items()
        }
        with self._lock:
            for commands in self._book.set_desired(desired, self._sessions.up_peers()):
                self._send_sync(commands)

    def change_routes(self, changes: Mapping[str, Mapping[str, RouteAttrs | None]]) -> None:
        """Change the desired routes at these (canonical) prefixes only (None = withdraw);
        the driver keeps its own tables, so it reads nothing but `changes` and the work
        follows the size of the change."""
        with self._lock:
            for commands in self._book.change_desired(changes, self._sessions.up_peers()):
                self._send_sync(commands)

    def announce_ahead(self, routes: Mapping[str, Mapping[str, RouteAttrs]]) -> None:
        """Announce these (canonical) routes now to the sessions that are up, before the
        plan they belong to is complete; the next `set_routes` still decides the whole
        set (withdraws included) and does not send them again."""
        with self._lock:
            for commands in self._book.ahead(routes, set(self._sessions.up_peers())):
                self._send(commands)
                self._session(commands.peer).updates += commands.updates
                log_event(log, "debug", "bgp_routes_ahead", peer=commands.peer,
                          announce=commands.announced)

    def _session(self, addr: str) -> Session:
        sess = self._sessions.get(addr)
        assert sess is not None, f"commands for {addr}, which has no session"
        return sess

    def _send_sync(self, commands: PeerCommands) -> None:
        """Send a sync's commands, counted as the session's updates (caller holds the
        lock)."""
        self._send(commands)
        self._session(commands.peer).updates += commands.updates
        if commands.updates:
            log_event(log, "info", "bgp_routes_sync", peer=commands.peer,
                      announce=commands.announced, withdraw=commands.withdrawn,
                      full=commands.full)

    def _send(self, commands: PeerCommands) -> PeerCommands:
        """Queue the commands; the ledger learns what they leave held once acked."""
        self._channel.send(commands.lines)
        if commands.lines:
            generation, sent, _ = self._channel.progress()
            self._acks.sent(commands.peer, generation, sent, len(self._book.held(commands.peer)))
        return commands

    def teardown(self, peer: str, subcode: int = CEASE_BFD_DOWN) -> bool:
        """Reset the BGP session with `peer` now: ExaBGP sends a Cease NOTIFICATION with
        `subcode` (default 10, "BFD Down", RFC 9384), closes the connection and
        re-establishes it by itself; the usual `up` then re-announces every route.
        False (nothing sent) when `peer` is not configured or ExaBGP is not running.
        ExaBGP ignores it for a session that is not established."""
        with self._lock:
            if peer not in self._peers or self.pid is None or not self._channel.connected:
                return False
            self._channel.send([f"neighbor {peer} teardown {subcode}"])
        log_event(log, "info", "bgp_session_teardown", peer=peer, subcode=subcode)
        return True

    def busy(self) -> bool:
        """Commands sent to the running ExaBGP that it has not acknowledged yet."""
        return self.pid is not None and self._channel.busy()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until ExaBGP acked every command sent so far (WaitTimeout after
        `timeout`, default `ack_timeout`)."""
        self._channel.flush(self.ack_timeout if timeout is None else timeout)

    # -- state for metrics -----------------------------------------------------------
    def sessions(self) -> dict[str, SessionState]:
        """Every session; `announced_prefixes` counts prefixes ExaBGP acknowledged to an
        up session (as MetalLB's metric), `pending_prefixes` desired ones not sent yet
        plus sent ones not acknowledged yet."""
        with self._lock:
            generation, _, acks = self._channel.progress()
            out = {}
            for addr, sess in self._sessions:
                held, pending = self._book.counts(addr, sess.up)
                announced = self._acks.acknowledged(addr, generation, acks, held)
                if sess.up:
                    pending += max(0, held - announced)
                else:
                    announced = 0
                out[addr] = SessionState(
                    peer=addr, state=sess.state, up=sess.up, reason=sess.reason,
                    since=sess.since, updates_sent=sess.updates,
                    announced_prefixes=announced, pending_prefixes=pending)
            return out

    def command_errors(self) -> int:
        """Commands ExaBGP answered with `error` since it (re)started."""
        return self._channel.errors

    # -- what ExaBGP reports (channel and supervisor threads) --------------------------
    def _handle(self, event: Event) -> None:
        emit: DriverEvent | None = None
        if isinstance(event, Ack):
            if not event.ok:
                log_event(log, "warn", "exabgp_command_error", errors=self._channel.errors,
                          log=self.log_path)
                emit = DriverEvent("command_error", detail=self.log_tail(2))
        elif isinstance(event, StateChange):
            with self._lock:
                if self._sessions.set_state(event.peer, event.state, event.reason) is None:
                    log_event(log, "debug", "bgp_state_unknown_peer", peer=event.peer)
                    return
                log_event(log, "info", f"bgp_session_{event.state}", peer=event.peer,
                          local=event.local, reason=event.reason or "")
                if event.state == "up":
                    self._send_sync(self._book.sync(event.peer, full=True))
            emit = DriverEvent("session", event.peer, event.state, event.reason)
        elif isinstance(event, Shutdown):
            log_event(log, "info", "exabgp_shutting_down", generation=self._channel.generation)
        elif isinstance(event, Other) and event.line:
            log_event(log, "debug", "exabgp_api_other", line=event.line[:200])
        if emit is not None:
            self._emit(emit)

    def _emit(self, event: DriverEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a broken callback must not kill the reader thread
            log.exception("%s", format_event("exabgp_on_event_failed", {"kind": event.kind}))

    def _on_exabgp_exit(self, rc: int | None) -> None:
        with self._lock:
            self._book.forget_held()  # nothing survives an ExaBGP restart
            self._acks.forget()
            self._sessions.all_down(f"exabgp exited rc={rc}")
        self._emit(DriverEvent("exabgp_exited", detail=f"rc={rc}"))

    def _warn_stuck_sessions(self) -> None:
        """Warn once about each session that stays down (wrong password, ASN or address
        look the same from here)."""
        with self._lock:
            stuck = self._sessions.newly_stuck(self.establish_warn_after)
        for addr, sess, down_for in stuck:
            hint = ("check the MD5 password matches the router's, and the ASNs and addresses"
                    if sess.spec.password else "check the router accepts this node's address "
                    "and ASN (and whether it expects an MD5 password)")
            log_event(log, "warn", "bgp_session_not_established", node=self.node_name,
                      peer=addr,
                      local=sess.spec.local_address, state=sess.state,
                      for_s=round(down_for), md5="yes" if sess.spec.password else "no",
                      hint=hint, exabgp_log=self.log_path)
            self._emit(DriverEvent("session_not_established", addr, sess.state, hint))
