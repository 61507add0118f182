"""The ExaBGP process: how it is started (optionally inside a network namespace, its
output read through a pipe into a bounded, redacted log), watched, restarted with
exponential backoff when it dies, and stopped by its PID."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from metallb.childproc import terminate
from metallb.logs import log_event
from speaker.exabgp import launcher
from speaker.exabgp.logfile import BoundedLog

log = logging.getLogger(__name__)


def default_exabgp_cmd() -> list[str]:
    """ExaBGP of this interpreter (the version pinned in pyproject.toml), through the
    launcher that removes five of its per-route costs (speaker/exabgp/launcher/)."""
    return launcher.command()


def stock_exabgp_cmd() -> list[str]:
    """The same ExaBGP exactly as released, for benchmarks that compare against it."""
    return [sys.executable, "-m", "exabgp"]


class Supervisor:
    """One ExaBGP child at a time.

    Always holds: `proc` is the latest process started (None before the first); a new
    one is started only after the previous one exited; ExaBGP's output only reaches the
    disk through `log` (one reader thread per process copies its pipe there). Threads:
    `spawn` and `terminate` are called by the driver (start, stop, and the watch
    thread's relaunch); `watch` starts the one watch thread. No lock: `proc` is replaced
    by one assignment and read once per use. Callbacks run on the watch thread and may
    take the driver's lock; `on_exit` must not block (the restart waits for it), `tick`
    runs every `poll_interval` seconds while ExaBGP runs.
    """

    def __init__(self, cmd: Sequence[str], log: BoundedLog, env: Mapping[str, str], *,
                 netns: str | None, restart_backoff: tuple[float, float],
                 stable_after: float, poll_interval: float):
        self.cmd = list(cmd)
        self.log = log
        self.env = dict(env)
        self.netns = netns
        self.restart_backoff = restart_backoff  # the settings' exabgp_* fields say what
        self.stable_after = stable_after  # each of these three means
        self.poll_interval = poll_interval
        self._readers: list[threading.Thread] = []
        self.restarts = 0  # relaunches after an exit (not the first start)
        self.proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._thread: threading.Thread | None = None

    def spawn(self, *args: str) -> int:
        """Start ExaBGP with `args` appended to its command; returns its PID (OSError
        when the command cannot be run)."""
        cmd = [*self.cmd, *args]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        reader = threading.Thread(target=self.log.copy, args=(proc.stdout,),
                                  name="exabgp-log", daemon=True)
        reader.start()
        self._readers = [t for t in self._readers if t.is_alive()] + [reader]
        self.proc = proc
        self._started_at = time.monotonic()
        return proc.pid

    @property
    def started(self) -> bool:
        return self.proc is not None

    @property
    def pid(self) -> int | None:
        """PID of the running ExaBGP (None when not running)."""
        proc = self.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def exited(self) -> bool:
        proc = self.proc
        return proc is not None and proc.poll() is not None

    def returncode(self) -> int | None:
        proc = self.proc
        return proc.poll() if proc is not None else None

    def log_tail(self, lines: int = 5) -> str:
        return self.log.tail(lines)

    def terminate(self, timeout: float) -> None:
        """SIGTERM (SIGKILL after `timeout`) the running ExaBGP, by its PID."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        terminate(proc, timeout, kill_timeout=timeout)
        log_event(log, "info", "exabgp_stopped", pid=proc.pid, rc=proc.returncode)

    def watch(self, stopping: threading.Event, on_exit: Callable[[int | None], None],
              relaunch: Callable[[], None], tick: Callable[[], None]) -> None:
        """Start the watch thread: on every exit call `on_exit(rc)`, wait the backoff,
        then `relaunch()` (which calls `spawn`), until `stopping` is set."""
        self._thread = threading.Thread(
            target=self._watch, args=(stopping, on_exit, relaunch, tick),
            name="exabgp-supervisor", daemon=True)
        self._thread.start()

    def drain(self, timeout: float) -> None:
        """Wait until the log holds what exited ExaBGPs wrote (each reader ends at EOF)."""
        for reader in self._readers:
            reader.join(timeout)

    def join(self, timeout: float) -> None:
        """Wait for the watch thread and the log readers (ExaBGP was terminated)."""
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.drain(timeout)
        self.log.close()

    def _watch(self, stopping: threading.Event, on_exit: Callable[[int | None], None],
               relaunch: Callable[[], None], tick: Callable[[], None]) -> None:
        first, longest = self.restart_backoff
        backoff = first
        while not stopping.is_set():
            proc = self.proc
            assert proc is not None
            try:
                rc = proc.wait(timeout=self.poll_interval)
            except subprocess.TimeoutExpired:
                tick()
                continue
            if stopping.is_set():
                return
            ran = time.monotonic() - self._started_at
            if ran > self.stable_after:
                backoff = first
            log_event(log, "warn", "exabgp_exited", pid=proc.pid, rc=rc, ran_s=ran,
                      restart_in_s=backoff, log_tail=self.log_tail(2))
            on_exit(rc)
            if stopping.wait(backoff):
                return
            backoff = min(backoff * 2, longest)
            try:
                self.restarts += 1
                relaunch()
            except OSError as exc:
                log_event(log, "error", "exabgp_start_failed", error=str(exc),
                          cmd=" ".join(self.cmd))
