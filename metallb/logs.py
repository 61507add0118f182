"""One event per line, `key=value`: the only place log lines are formatted and quoted.

Daemons and the lab log through `log_event(logger, level, "event_name", key=value, ...)`.
Values are quoted here, once, so a message with spaces or quotes (an API error, a file
path, a Service name from a user) can never break a line into fields that were not meant:
a reader (`grep event=`, Loki, a test) splits every line the same way.
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from collections.abc import Callable

LOG_LEVELS = ("debug", "info", "warn", "error")
"""The daemons' `--log-level` choices (upstream's names; "warn" is logging's WARNING)."""

MAX_VALUE_CHARS = 300
"""A value longer than this is cut: one bad object must not write a megabyte line."""

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR}


def one_line(value: object) -> str:
    """`value` as text on one line (whitespace runs become one space), at most 300 chars."""
    return " ".join(str(value).split())[:MAX_VALUE_CHARS]


def quote(value: object) -> str:
    """A value as it appears after `key=`: bare when that is unambiguous, else quoted.

    Bare: non-empty text without spaces, quotes, `=` or backslashes. Otherwise the text
    goes in double quotes with `\\` and `"` escaped. Floats print with 3 decimals (the
    logs carry durations in seconds), None as `-`.
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}"
    text = one_line(value)
    if text and not any(c in text for c in ' "=\\'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_event(event: str, fields: dict[str, object]) -> str:
    """`event=NAME k1=v1 k2=v2` with every value quoted by `quote`."""
    parts = [f"event={event}"]
    parts.extend(f"{key}={quote(value)}" for key, value in fields.items())
    return " ".join(parts)


def parse_event(line: str) -> dict[str, str]:
    """The fields of one line `format_event` wrote (also inside a KeyValueFormatter line):
    the reading side of the format, for tools and tests that follow a daemon's output."""
    try:
        parts = shlex.split(line)
    except ValueError:  # not one of ours (an unbalanced quote): nothing to read
        return {}
    return dict(part.split("=", 1) for part in parts if "=" in part)


def log_event(logger: logging.Logger, level: str | int, event: str, /,
              **fields: object) -> None:
    """Log one structured event; `level` is a name ("info", "warn", ...) or a logging int.

    The line is only built when the level is enabled, so a debug event in a hot loop
    costs one comparison when debug logging is off.
    """
    numeric = _LEVELS[level] if isinstance(level, str) else level
    if logger.isEnabledFor(numeric):
        logger.log(numeric, "%s", format_event(event, fields))


class KeyValueFormatter(logging.Formatter):
    """`ts=... level=... logger=... <message>`; a traceback stays on the same line."""

    def format(self, record: logging.LogRecord) -> str:
        line = (f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}.{int(record.msecs):03d} "
                f"level={record.levelname.lower()} logger={record.name} "
                f"{record.getMessage()}")
        if record.exc_info:  # a bug, not user input: keep the traceback on one line
            line += " traceback=" + repr(self.formatException(record.exc_info))
        return line


def configure_logging(level: str) -> None:
    """Send every logger's records to stderr, one key=value line each, at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    # The client's urllib3 retries log their own multi-line warnings.
    logging.getLogger("urllib3").setLevel(logging.ERROR)


class StepTimes:
    """Seconds per step of a sequence (a daemon's shutdown), for its one closing log line:
    a slow stop is found by its step, not guessed at. `mark(name)` ends the step that
    began at the last mark (or at creation); `fields()` gives `<name>_s=` per step and
    `total_s=`, rounded to milliseconds. One thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._start = self._last = clock()
        self._steps: dict[str, float] = {}

    def mark(self, name: str) -> None:
        now = self._clock()
        self._steps[name] = self._steps.get(name, 0.0) + now - self._last
        self._last = now

    def fields(self) -> dict[str, float]:
        out = {f"{name}_s": round(seconds, 3) for name, seconds in self._steps.items()}
        out["total_s"] = round(self._last - self._start, 3)
        return out
