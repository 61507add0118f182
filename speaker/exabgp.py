"""The ExaBGP driver: owns one ExaBGP child and keeps every peer's announced routes equal
to the desired state the speaker hands it.

How it talks to ExaBGP: ExaBGP only exchanges API lines with processes it starts itself,
so the configured `process` is `exabgp_relay.py`, which connects back to a Unix socket
this driver serves (a filesystem path: it works across network namespaces) and copies
lines both ways. A reader thread consumes ExaBGP's JSON session events and acks all the
time (acks are not in command order, so they are only counted); a writer thread sends
commands, so a slow ExaBGP never blocks the reader (which would deadlock both).

Route state per peer address: `desired` (from `set_routes`) and `held` (what ExaBGP may
hold for it: ExaBGP keeps a peer's API routes across flaps and reloads, cached by the
neighbor's name, and loses them only when it restarts). A peer whose session comes up
gets the full set plus withdraws for anything held but no longer desired (a peer added
by a reload gets none of the routes injected before); later changes go out as
incremental announces and withdraws, batched by equal attributes into one
`announce attributes ... nlri` line.

Public API (the speaker daemon builds on it):
    driver = ExaBGPDriver(state_dir, ["192.0.2.11", "2001:db8:ffff::11"], netns=None,
                          on_event=callback)
    driver.start()
    driver.set_peers([PeerSpec(...) or PeerSpec.from_peer(peer, node_addresses)])
    driver.set_routes({"192.0.2.1": {"198.51.100.10/32": RouteAttrs()}})
    driver.sessions()  -> {peer: SessionState}
    driver.stop(withdraw=True)
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from metallb.childproc import terminate
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
from speaker.exabgp_config import (
    DEFAULT_BATCH,
    announce_commands,
    exabgp_env,
    render_config,
    withdraw_commands,
)
from speaker.exabgp_events import Ack, Other, Shutdown, StateChange, parse_line

log = logging.getLogger(__name__)

RELAY_SCRIPT = Path(__file__).with_name("exabgp_relay.py")
SOCKET_PATH_MAX = 107  # sun_path is 108 bytes including the terminating NUL
LOG_ROTATE_BYTES = 10 * 1024 * 1024  # exabgp.log -> exabgp.log.1 at (re)start beyond this


class ExaBGPError(BackendError):
    """ExaBGP could not be started or driven; the message names the log file to read."""


@dataclass
class _Session:
    spec: PeerSpec
    state: str = "idle"
    reason: str | None = None
    since: float = field(default_factory=time.time)
    since_mono: float = field(default_factory=time.monotonic)
    updates: int = 0
    warned: bool = False

    @property
    def up(self) -> bool:
        return self.state == "up"

    def set_state(self, state: str, reason: str | None = None) -> None:
        self.state = state
        self.reason = reason if state == "down" else self.reason
        self.since = time.time()
        self.since_mono = time.monotonic()
        if state == "up":
            self.warned = False


def default_exabgp_cmd() -> list[str]:
    """ExaBGP of this interpreter (the version pinned in pyproject.toml), through the
    launcher that removes five of its per-route costs (speaker/exabgp_launcher.py)."""
    return [sys.executable, "-m", "speaker.exabgp_launcher"]


def stock_exabgp_cmd() -> list[str]:
    """The same ExaBGP exactly as released, for benchmarks that compare against it."""
    return [sys.executable, "-m", "exabgp"]


class ExaBGPDriver:
    def __init__(
        self,
        state_dir: str | Path,
        node_addresses: Sequence[str] | str,
        exabgp_cmd: Sequence[str] | None = None,
        netns: str | None = None,
        on_event: Callable[[DriverEvent], None] | None = None,
        group_updates: bool = True,
        batch: int = DEFAULT_BATCH,
        restart_backoff: tuple[float, float] = (0.2, 10.0),
        establish_warn_after: float = 10.0,
        log_level: str = "INFO",
    ):
        self.state_dir = Path(state_dir).absolute()
        self.node_addresses = (
            [node_addresses] if isinstance(node_addresses, str) else list(node_addresses))
        self.exabgp_cmd = list(exabgp_cmd or default_exabgp_cmd())
        self.netns = netns
        self.on_event = on_event
        self.group_updates = group_updates
        self.batch = batch
        self.restart_backoff = restart_backoff
        self.establish_warn_after = establish_warn_after
        self.log_level = log_level
        self.socket_path = self.state_dir / "api.sock"
        self.config_path = self.state_dir / "exabgp.conf"
        self.log_path = self.state_dir / "exabgp.log"
        if len(str(self.socket_path)) > SOCKET_PATH_MAX:
            raise ExaBGPError(f"state dir {self.state_dir} is too long for a Unix socket path "
                              f"(max {SOCKET_PATH_MAX - 9} characters); use a shorter one")

        self._lock = threading.RLock()
        self._peers: dict[str, PeerSpec] = {}
        self._sessions: dict[str, _Session] = {}
        self._desired: dict[str, dict[str, RouteAttrs]] = {}
        self._held: dict[str, dict[str, RouteAttrs]] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._restarts = 0
        self._generation = 0  # +1 per ExaBGP launch; commands of an old one are dropped
        self._config_serial = 0  # +1 per config write
        self._loaded_serial = 0  # config serial the running ExaBGP has loaded
        self._conn: socket.socket | None = None
        self._commands = 0  # commands sent to the current ExaBGP
        self._acks = 0
        self._errors = 0
        self._queue: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> ExaBGPDriver:
        """Start ExaBGP and return once its API relay is connected."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.socket_path))
        self._listener.listen(4)
        for target, name in ((self._accept_loop, "accept"), (self._write_loop, "writer")):
            self._spawn(target, name)
        try:
            try:
                self._launch()
            except OSError as exc:
                raise ExaBGPError(f"cannot run {' '.join(self.exabgp_cmd)}: {exc}; install "
                                  "exabgp (pip install exabgp==4.2.25)") from exc
            poll_until(lambda: self._conn is not None or self._proc_exited(), timeout,
                       what="ExaBGP's API relay to connect")
            if self._conn is None:
                raise ExaBGPError(f"ExaBGP exited at start (rc={self._proc_rc()}): "
                                  f"{self.log_tail()} (log: {self.log_path})")
        except BaseException:
            self.stop(withdraw=False)
            raise
        self._spawn(self._supervise, "supervisor")
        return self

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=f"exabgp-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _launch(self) -> None:
        """Write the config and start a new ExaBGP (a new generation)."""
        with self._lock:
            self._write_config()
            self._generation += 1
            self._commands = self._acks = self._errors = 0
            self._loaded_serial = self._config_serial
            cmd = [*self.exabgp_cmd, str(self.config_path)]
            if self.netns:
                cmd = ["ip", "netns", "exec", self.netns, *cmd]
            env = {**os.environ, **exabgp_env(self.log_level)}
            with contextlib.suppress(FileNotFoundError):
                if self.log_path.stat().st_size > LOG_ROTATE_BYTES:
                    self.log_path.replace(self.log_path.with_suffix(".log.1"))
            with open(self.log_path, "ab") as logfile:
                self._proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                              stdout=logfile, stderr=subprocess.STDOUT,
                                              start_new_session=True)
            self._started_at = time.monotonic()
            pid, generation = self._proc.pid, self._generation
        log.info("event=exabgp_started pid=%d generation=%d netns=%s peers=%d config=%s",
                 pid, generation, self.netns or "-", len(self._peers), self.config_path)
        self._emit(DriverEvent("exabgp_started", detail=f"pid={pid}"))

    def _write_config(self) -> None:
        relay = [sys.executable, str(RELAY_SCRIPT), str(self.socket_path)]
        text = render_config(self._peers.values(), relay, group_updates=self.group_updates)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.touch(mode=0o600)  # it holds the MD5 passwords
        tmp.write_text(text)
        tmp.replace(self.config_path)
        self._config_serial += 1

    def _proc_exited(self) -> bool:
        return self._proc is not None and self._proc.poll() is not None

    def _proc_rc(self) -> int | None:
        return self._proc.poll() if self._proc else None

    @property
    def pid(self) -> int | None:
        """PID of the running ExaBGP (None when not running)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def restarts(self) -> int:
        return self._restarts

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(text[-lines:])

    def stop(self, withdraw: bool = True, timeout: float = 5.0) -> None:
        """Withdraw everything (and wait for ExaBGP's acks), then stop ExaBGP by PID.

        Withdraw-then-stop makes the router drop this node at once instead of after the
        hold time. Idempotent; never raises for a process that is already gone.
        """
        self._stopping.set()
        if withdraw:
            with self._lock:
                withdrawn = 0
                for addr, sess in self._sessions.items():
                    held = self._held.get(addr)
                    if sess.up and held:
                        withdrawn += len(held)
                        self._send(withdraw_commands(addr, held, self.batch))
                        self._held[addr] = {}
            if withdrawn:
                try:
                    self.flush(timeout)
                    log.info("event=exabgp_withdrawn_all prefixes=%d", withdrawn)
                except WaitTimeout as exc:
                    log.warning("event=exabgp_withdraw_unacked prefixes=%d error=%r",
                                withdrawn, str(exc))
        self._terminate(timeout)
        self._queue.put(None)
        with self._lock:
            conn, self._conn = self._conn, None
            listener, self._listener = self._listener, None
            for sess in self._sessions.values():
                if sess.state != "down":
                    sess.set_state("down", "driver stopped")
        for sock in (conn, listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._threads.clear()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def _terminate(self, timeout: float) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        terminate(proc, timeout, kill_timeout=timeout)
        log.info("event=exabgp_stopped pid=%d rc=%s", proc.pid, proc.returncode)

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
            if self.pid is not None and self._conn is not None:
                # ExaBGP caches a neighbor's routes by name even after it is removed and
                # would resend them if the same neighbor came back: empty it first.
                for addr in removed:
                    held = self._held.pop(addr, {})
                    withdrawn += len(held)
                    self._send(withdraw_commands(addr, held, self.batch))
            for addr, spec in new.items():
                if self._peers.get(addr) != spec:
                    self._sessions[addr] = _Session(spec)
            for addr in removed:
                del self._sessions[addr]
            self._peers = new
        if withdrawn:
            try:
                self.flush(5.0)
            except WaitTimeout as exc:
                log.warning("event=exabgp_withdraw_unacked prefixes=%d error=%r", withdrawn,
                            str(exc))
        with self._lock:
            if self._proc is None:
                return  # start() writes the config
            self._write_config()
            reloaded = self._reload_if_ready()
        log.info("event=exabgp_peers_set peers=%s reload=%s",
                 ",".join(sorted(new)) or "-", "sent" if reloaded else "pending")

    def _reload_if_ready(self) -> bool:
        """SIGUSR1 ExaBGP if its config changed since it loaded it. Only once its relay is
        connected: before that ExaBGP may not have its signal handlers yet (SIGUSR1 would
        kill it); the accept loop calls this again when the relay connects."""
        with self._lock:
            pid = self.pid
            if pid is None or self._conn is None or self._loaded_serial == self._config_serial:
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
            self._desired = desired
            for addr, sess in self._sessions.items():
                if sess.up:
                    self._sync(addr, sess, full=False)

    def announce_ahead(self, routes: Mapping[str, Mapping[str, RouteAttrs]]) -> None:
        """Announce these (canonical) routes now to the sessions that are up, before the
        plan they belong to is complete; the next `set_routes` still decides the whole
        set (withdraws included) and does not send them again."""
        with self._lock:
            for addr, table in routes.items():
                sess = self._sessions.get(addr)
                if sess is None or not sess.up or not table:
                    continue
                held = self._held.setdefault(addr, {})
                new = {p: a for p, a in table.items() if held.get(p) != a}
                if not new:
                    continue
                self._send(announce_commands(addr, new, self.batch))
                sess.updates += len(new)
                held.update(new)
                log.debug("event=bgp_routes_ahead peer=%s announce=%d", addr, len(new))

    def _sync(self, addr: str, sess: _Session, full: bool) -> None:
        """Bring ExaBGP's routes for `addr` to the desired set (caller holds the lock)."""
        desired = self._desired.get(addr, {})
        held = self._held.get(addr, {})
        withdraw = [p for p in held if p not in desired]
        announce = desired if full else {
            p: a for p, a in desired.items() if held.get(p) != a}
        self._send(withdraw_commands(addr, withdraw, self.batch))
        self._send(announce_commands(addr, announce, self.batch))
        sess.updates += len(withdraw) + len(announce)
        self._held[addr] = dict(desired)
        if withdraw or announce:
            log.info("event=bgp_routes_sync peer=%s announce=%d withdraw=%d full=%s",
                     addr, len(announce), len(withdraw), full)

    def _send(self, lines: list[str]) -> None:
        for line in lines:
            self._queue.put((self._generation, line))
        self._commands += len(lines)

    def busy(self) -> bool:
        """Commands sent to the running ExaBGP that it has not acknowledged yet."""
        with self._lock:
            return self.pid is not None and self._acks < self._commands

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until ExaBGP acked every command sent so far (WaitTimeout otherwise)."""
        with self._lock:
            generation, target = self._generation, self._commands
        poll_until(lambda: self._generation != generation or self._acks >= target, timeout,
                   interval=0.002, what=f"ExaBGP to ack {target} commands")

    # -- state for metrics -----------------------------------------------------------
    def sessions(self) -> dict[str, SessionState]:
        with self._lock:
            out = {}
            for addr, sess in self._sessions.items():
                desired = self._desired.get(addr, {})
                held = self._held.get(addr, {})
                if sess.up:
                    pending = sum(1 for p, a in desired.items() if held.get(p) != a)
                    announced = len(held)
                else:
                    pending, announced = len(desired), 0
                out[addr] = SessionState(
                    peer=addr, state=sess.state, up=sess.up, reason=sess.reason,
                    since=sess.since, updates_sent=sess.updates,
                    announced_prefixes=announced, pending_prefixes=pending)
            return out

    def command_errors(self) -> int:
        """Commands ExaBGP answered with `error` since it (re)started."""
        return self._errors

    # -- threads ---------------------------------------------------------------------
    def _accept_loop(self) -> None:
        listener = self._listener
        while listener is not None and not self._stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                old, self._conn = self._conn, conn
            if old is not None:
                old.close()
            log.info("event=exabgp_api_connected generation=%d", self._generation)
            self._reload_if_ready()
            self._spawn(lambda c=conn: self._read_loop(c), "reader")

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            lines = [item]
            while True:  # coalesce what is queued into one write
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                lines.append(nxt)
            with self._lock:
                conn, generation = self._conn, self._generation
            data = "".join(line + "\n" for gen, line in lines if gen == generation)
            if conn is None or not data:
                continue
            try:
                conn.sendall(data.encode())
            except OSError as exc:
                log.warning("event=exabgp_api_send_failed error=%r", str(exc))

    def _read_loop(self, conn: socket.socket) -> None:
        try:
            with conn.makefile("rb") as lines:
                for raw in lines:
                    self._handle(conn, raw.decode(errors="replace"))
        except (OSError, ValueError):
            pass
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def _handle(self, conn: socket.socket, line: str) -> None:
        event = parse_line(line)
        emit: DriverEvent | None = None
        with self._lock:
            current = conn is self._conn
            if isinstance(event, Ack):
                if current:
                    self._acks += 1
                    if not event.ok:
                        self._errors += 1
                if not event.ok:
                    log.warning("event=exabgp_command_error errors=%d log=%s",
                                self._errors, self.log_path)
                    emit = DriverEvent("command_error", detail=self.log_tail(2))
            elif isinstance(event, StateChange):
                sess = self._sessions.get(event.peer)
                if sess is None:
                    log.debug("event=bgp_state_unknown_peer peer=%s", event.peer)
                    return
                sess.set_state(event.state, event.reason)
                log.info("event=bgp_session_%s peer=%s local=%s reason=%r", event.state,
                         event.peer, event.local, event.reason or "")
                if event.state == "up":
                    self._sync(event.peer, sess, full=True)
                emit = DriverEvent("session", event.peer, event.state, event.reason)
            elif isinstance(event, Shutdown):
                log.info("event=exabgp_shutting_down generation=%d", self._generation)
            elif isinstance(event, Other) and event.line:
                log.debug("event=exabgp_api_other line=%r", event.line[:200])
        if emit is not None:
            self._emit(emit)

    def _emit(self, event: DriverEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a broken callback must not kill the reader thread
            log.exception("event=exabgp_on_event_failed kind=%s", event.kind)

    def _supervise(self) -> None:
        """Restart ExaBGP with exponential backoff when it dies; warn about sessions that
        do not come up (wrong password, ASN or address look the same from here)."""
        backoff = self.restart_backoff[0]
        while not self._stopping.is_set():
            proc = self._proc
            assert proc is not None
            try:
                rc = proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                self._warn_stuck_sessions()
                continue
            if self._stopping.is_set():
                return
            ran = time.monotonic() - self._started_at
            if ran > 30:
                backoff = self.restart_backoff[0]
            log.warning("event=exabgp_exited pid=%d rc=%s ran_s=%.1f restart_in_s=%.1f "
                        "log_tail=%r", proc.pid, rc, ran, backoff, self.log_tail(2))
            with self._lock:
                self._held.clear()  # nothing survives an ExaBGP restart
                for sess in self._sessions.values():
                    if sess.state != "down":
                        sess.set_state("down", f"exabgp exited rc={rc}")
            self._emit(DriverEvent("exabgp_exited", detail=f"rc={rc}"))
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self.restart_backoff[1])
            try:
                self._restarts += 1
                self._launch()
            except OSError as exc:
                log.error("event=exabgp_start_failed error=%r cmd=%s", str(exc),
                          " ".join(self.exabgp_cmd))

    def _warn_stuck_sessions(self) -> None:
        now = time.monotonic()
        stuck = []
        with self._lock:
            for addr, sess in self._sessions.items():
                if (not sess.up and not sess.warned
                        and now - sess.since_mono > self.establish_warn_after):
                    sess.warned = True
                    stuck.append((addr, sess))
        for addr, sess in stuck:
            hint = ("check the MD5 password matches the router's, and the ASNs and addresses"
                    if sess.spec.password else "check the router accepts this node's address "
                    "and ASN (and whether it expects an MD5 password)")
            log.warning("event=bgp_session_not_established peer=%s local=%s state=%s "
                        "for_s=%.0f md5=%s hint=%r exabgp_log=%s", addr,
                        sess.spec.local_address, sess.state, now - sess.since_mono,
                        "yes" if sess.spec.password else "no", hint, self.log_path)
            self._emit(DriverEvent("session_not_established", addr, sess.state, hint))
