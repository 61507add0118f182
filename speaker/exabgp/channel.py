"""The API channel to ExaBGP: a Unix socket its relay (speaker/exabgp/relay.py)
connects to, a writer thread for commands and a reader thread for what comes back.

Two threads because a slow ExaBGP must never block the reader: ExaBGP stops reading
commands while its own output is not read, so one thread doing both would deadlock.
Acks come back for every command but not in command order, so they are only counted:
`flush` waits until as many acks as commands arrived for the current generation (one
generation per ExaBGP launch; lines queued for an older one are dropped).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from metallb.logs import log_event
from metallb.wait import poll_until
from speaker.exabgp.events import Ack, Event, parse_line

log = logging.getLogger(__name__)

SOCKET_PATH_MAX = 107  # sun_path is 108 bytes including the terminating NUL


class Channel:
    """The socket, the command queue and the ack counters of the running ExaBGP.

    Always holds: a line is written only while the generation it was queued for is
    the current one, and only acks read from the current connection are counted, so
    `flush` never returns early on an older ExaBGP's acks.
    Threads: `open`, `close`, `new_generation`, `send`, `flush`, `busy` are called by
    the driver (from any of its callers' threads); the accept thread, the writer
    thread and one reader thread per connection run here. The lock guards the connection, the
    generation and the counters; it is never held while calling back.
    Callbacks: `on_connected()` from the accept thread, `on_event(event)` from a
    reader thread for every line (acks too, after they were counted); both may take
    the driver's lock and call `send`, but must not wait for acks (`flush`).
    """

    def __init__(self, socket_path: Path, on_connected: Callable[[], None],
                 on_event: Callable[[Event], None]):
        self.socket_path = socket_path
        self._on_connected = on_connected
        self._on_event = on_event
        self._lock = threading.Lock()
        self._conn: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._generation = 0
        self._commands = 0  # commands sent to the current generation
        self._acks = 0
        self._errors = 0
        self._queue: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------
    def open(self) -> None:
        """Serve the socket (a stale one is replaced) and start accepting and writing."""
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket_path))
        self.socket_path.chmod(0o600)  # only root (the speaker, ExaBGP's relay) drives BGP
        listener.listen(4)
        self._listener = listener
        self._spawn(self._accept_loop, "accept")
        self._spawn(self._write_loop, "writer")

    def close(self, timeout: float) -> None:
        """Stop every thread (each joined up to `timeout`) and remove the socket."""
        self._closing.set()
        self._queue.put(None)
        with self._lock:
            conn, self._conn = self._conn, None
            listener, self._listener = self._listener, None
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

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=f"exabgp-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- commands --------------------------------------------------------------------
    def new_generation(self) -> int:
        """A new ExaBGP is being launched: counters restart, older lines are dropped."""
        with self._lock:
            self._generation += 1
            self._commands = self._acks = self._errors = 0
            return self._generation

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def errors(self) -> int:
        """Commands the current ExaBGP answered with `error`."""
        return self._errors

    def send(self, lines: list[str] | tuple[str, ...]) -> None:
        """Queue command lines for the current generation (the writer sends them)."""
        with self._lock:
            for line in lines:
                self._queue.put((self._generation, line))
            self._commands += len(lines)

    def progress(self) -> tuple[int, int, int]:
        """(generation, commands sent to it, acks received from it)."""
        with self._lock:
            return self._generation, self._commands, self._acks

    def busy(self) -> bool:
        """Commands sent to the current generation that are not acknowledged yet."""
        with self._lock:
            return self._acks < self._commands

    def flush(self, timeout: float) -> None:
        """Wait until every command sent so far was acked, or a new generation started
        (WaitTimeout otherwise)."""
        with self._lock:
            generation, target = self._generation, self._commands
        poll_until(lambda: self._generation != generation or self._acks >= target, timeout,
                   interval=0.002, what=f"ExaBGP to ack {target} commands")

    # -- threads ---------------------------------------------------------------------
    def _accept_loop(self) -> None:
        listener = self._listener
        while listener is not None and not self._closing.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                old, self._conn = self._conn, conn
            if old is not None:
                old.close()
            log_event(log, "info", "exabgp_api_connected", generation=self._generation)
            self._on_connected()
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
                log_event(log, "warn", "exabgp_api_send_failed", error=str(exc))

    def _read_loop(self, conn: socket.socket) -> None:
        try:
            with conn.makefile("rb") as lines:
                for raw in lines:
                    event = parse_line(raw.decode(errors="replace"))
                    if isinstance(event, Ack):
                        self._count(conn, event)
                    self._on_event(event)
        except (OSError, ValueError):
            pass
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def _count(self, conn: socket.socket, ack: Ack) -> None:
        with self._lock:
            if conn is self._conn:  # an ack from a replaced connection counts for nothing
                self._acks += 1
                if not ack.ok:
                    self._errors += 1
