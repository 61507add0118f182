"""Daemons start on port 0 and say where they listen; this reads the address back.

Picking a "free" port by binding and releasing it races with every other process on the
machine; a daemon that binds port 0 itself cannot lose that race. Each daemon logs the
address it bound once, at start-up: the patterns below find that line.
"""

from __future__ import annotations

import re
from pathlib import Path

DAEMON_METRICS = re.compile(r'\bmetrics="?(127\.0\.0\.1:\d+)')
"""The controller's `event=started` and the speaker's `event=speaker_started` line."""

PROMETHEUS_LISTENING = re.compile(r'msg="Listening on" address="?(127\.0\.0\.1:\d+)')
"""Prometheus' web server, at log level info."""


def logged_address(log_path: Path | str, pattern: re.Pattern[str]) -> str | None:
    """`host:port` from the first line of `log_path` that `pattern` matches, else None
    (not started yet, or the file does not exist yet)."""
    try:
        text = Path(log_path).read_text(errors="replace")
    except FileNotFoundError:
        return None
    match = pattern.search(text)
    return match.group(1) if match else None


def port_of(address: str) -> int:
    """The port of a `host:port` address."""
    return int(address.rsplit(":", 1)[1])
