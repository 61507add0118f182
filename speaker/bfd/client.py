"""What the speaker uses to run the BFD process and hear from it.

The process is a child (`python -m speaker.bfd`, inside the node's network namespace
via `ip netns exec` when `netns` is given: `ip` execs in place, so `pid` is the BFD
process itself). It keeps running on its own: the speaker's GC pauses, a 10k-route plan
or a busy ExaBGP only delay when the speaker *hears* of a state change, never the
packets that keep the sessions up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from metallb.childproc import terminate
from metallb.logs import log_event
from metallb.metrics import BfdSessionCounters
from speaker.bfd.spec import SessionKey, SessionSpec

log = logging.getLogger("speaker.bfd.client")


DEFAULT_REALTIME_PRIORITY = 10
"""SCHED_FIFO priority of the BFD process (0: normal scheduling). Measured with
bench/bfd.py on the 2-core machine: a 50x3 session under four busy 10k-route loops
flapped once a minute at normal priority, never at SCHED_FIFO 10. The loop sleeps
between packets, so it takes little CPU; without CAP_SYS_NICE the process logs
`bfd_realtime_refused` and runs at normal priority."""


class BfdProcessError(RuntimeError):
    """The BFD process failed to start, refused a command, or is not running."""


@dataclass(frozen=True)
class BfdEvent:
    """One line from the process. `kind` is "session" (a state change: `peer`,
    `multihop`, `state` in admin_down/down/init/up, `old` (None for the first event of
    a new session, which starts down), `diag` (ours: why it went down), `detect_ms`),
    "error" (a command was refused), "stopped", or "exited" (the process ended;
    `data["returncode"]`)."""

    kind: str
    data: dict[str, object]

    @property
    def key(self) -> SessionKey | None:
        if self.kind != "session":
            return None
        return (str(self.data["peer"]), bool(self.data["multihop"]))

    @property
    def state(self) -> str | None:
        return str(self.data["state"]) if self.kind == "session" else None


class BfdClient:
    """Starts, commands and stops one BFD process.

    Threads: `start`, `set_sessions`, `stats` and `stop` may be called from any thread
    (`stop` and `start` not concurrently with each other; a lock serialises writes to
    the process's stdin, another the stats round trips; a write blocks only while the
    process does not read, e.g. SIGSTOPped, and its 64 KiB pipe is full). One reader
    thread, owned by this object, reads the process's stdout: it records each
    session's latest state in `states` (callers only read it), calls `on_event` (it must not
    block: later events wait behind it; the speaker should hand "down" to its own
    thread, which sends `neighbor <peer> teardown` to ExaBGP) and puts the event on the
    queue that `events()` drains. When the process exits on its own, an "exited" event
    is delivered the same way; restarting it is the supervisor's decision (call
    `start` again, then `set_sessions`).
    """

    def __init__(self, netns: str | None = None,
                 on_event: Callable[[BfdEvent], None] | None = None,
                 python: str = sys.executable, stderr_path: Path | None = None,
                 realtime_priority: int = DEFAULT_REALTIME_PRIORITY,
                 log_level: str = "info"):
        self.netns = netns
        self.on_event = on_event
        self.python = python
        self.stderr_path = stderr_path
        self.realtime_priority = realtime_priority
        self.log_level = log_level
        self.states: dict[SessionKey, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._queue: queue.Queue[BfdEvent] = queue.Queue()
        self._stats: queue.Queue[dict[str, object]] = queue.Queue()
        self._write_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._ready = threading.Event()
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        cmd = [self.python, "-m", "speaker.bfd", "--log-level", self.log_level]
        if self.realtime_priority:
            cmd += ["--realtime-priority", str(self.realtime_priority)]
        return ["ip", "netns", "exec", self.netns, *cmd] if self.netns else cmd

    def start(self, timeout: float = 10.0) -> BfdClient:
        """Start the process; return once it said `ready`. BfdProcessError otherwise."""
        if self.running():
            raise BfdProcessError("the BFD process is already running")
        self._ready.clear()
        self._stopping = False
        self.states.clear()
        stderr = open(self.stderr_path, "ab") if self.stderr_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        finally:
            if stderr is not subprocess.DEVNULL:
                stderr.close()
        self._reader = threading.Thread(target=self._read, args=(self._proc,),
                                        name="bfd-events", daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout):
            self.stop(timeout=1.0)
            raise BfdProcessError(f"the BFD process did not become ready in {timeout:.1f}s")
        log_event(log, "info", "bfd_process_started", pid=self.pid, netns=self.netns)
        return self

    def set_sessions(self, specs: list[SessionSpec]) -> None:
        """Exactly these sessions from now on (added, removed with AdminDown, retimed)."""
        self._write({"op": "set", "sessions": [s.to_json() for s in specs]})

    def stats(self, timeout: float = 5.0) -> dict[str, object]:
        """Counters per session (control_packet_input/output, session_up/down_events).
        Blocks until the process answers (well under a millisecond unless it is
        stopped); concurrent callers take turns."""
        with self._stats_lock:
            with contextlib.suppress(queue.Empty):
                while True:
                    self._stats.get_nowait()  # a late answer to a caller that gave up
            self._write({"op": "stats"})
            try:
                return self._stats.get(timeout=timeout)
            except queue.Empty:
                raise BfdProcessError(
                    f"no stats from the BFD process in {timeout:.1f}s") from None

    def events(self, timeout: float | None = None) -> Iterator[BfdEvent]:
        """Events as they come; ends after `timeout` seconds without one, or after
        the process exited."""
        while True:
            try:
                event = self._queue.get(timeout=timeout)
            except queue.Empty:
                return
            yield event
            if event.kind == "exited":
                return

    def stop(self, timeout: float = 5.0) -> int | None:
        """Ask for a clean shutdown (AdminDown to every peer), wait, SIGTERM/SIGKILL by
        PID if it does not exit. Returns the exit code. Idempotent."""
        proc = self._proc
        if proc is None:
            return None
        self._stopping = True
        if proc.poll() is None:
            with contextlib.suppress(BfdProcessError):
                self._write({"op": "shutdown"})
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                terminate(proc, timeout=1.0)
        if self._reader is not None:
            self._reader.join(timeout)
        with contextlib.suppress(OSError):
            if proc.stdin:
                proc.stdin.close()
        log_event(log, "info", "bfd_process_stopped", pid=proc.pid, returncode=proc.returncode)
        return proc.returncode

    # -- internals ---------------------------------------------------------------------
    def _write(self, message: dict[str, object]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.poll() is not None:
            raise BfdProcessError("the BFD process is not running")
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        with self._write_lock:
            try:
                proc.stdin.write(data)
                proc.stdin.flush()
            except (BrokenPipeError, ValueError) as exc:
                raise BfdProcessError(f"the BFD process is gone: {exc}") from exc

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                data = json.loads(line)
                kind = str(data.pop("event"))
            except (ValueError, KeyError, AttributeError):
                log_event(log, "warn", "bfd_bad_event_line", line=line[:200])
                continue
            if kind == "ready":
                self._ready.set()
                continue
            if kind == "stats":
                self._stats.put(data)
                continue
            self._deliver(BfdEvent(kind, data))
        returncode = proc.wait()
        if not self._stopping:
            log_event(log, "error", "bfd_process_exited", pid=proc.pid, returncode=returncode)
        self._deliver(BfdEvent("exited", {"returncode": returncode}))

    def _deliver(self, event: BfdEvent) -> None:
        if event.key is not None and event.state is not None:
            self.states[event.key] = event.state
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception as exc:  # a broken callback must not stop event delivery
                log_event(log, "error", "bfd_event_callback_failed", error=exc)
        self._queue.put(event)


def counters_from_stats(stats: dict[str, object]) -> dict[str, BfdSessionCounters]:
    """`BfdClient.stats()` as BFDMetrics.publish takes it (peer address -> counters)."""
    sessions = stats.get("sessions") or []
    return {
        str(s["peer"]): BfdSessionCounters(
            up=s["state"] == "up",
            control_packet_input=int(s["control_packet_input"]),
            control_packet_output=int(s["control_packet_output"]),
            session_up_events=int(s["session_up_events"]),
            session_down_events=int(s["session_down_events"]),
        )
        for s in sessions  # type: ignore[union-attr]
    }
