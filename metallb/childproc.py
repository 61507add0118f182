"""Stopping a child process we started: by its PID only, politely first."""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess

from metallb.logs import log_event

log = logging.getLogger("metallb.childproc")


def terminate(proc: subprocess.Popen, timeout: float = 10.0,
              kill_timeout: float = 5.0) -> int | None:
    """SIGTERM, wait up to `timeout`, SIGKILL if it is still there; returns the exit code
    (None if even SIGKILL did not end it in `kill_timeout`). Already gone is fine."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log_event(log, "warn", "child_killed", pid=proc.pid,
                      reason="no_exit_after_sigterm", timeout=timeout)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(kill_timeout)
    return proc.returncode
