"""ExaBGP's log: its output read through a pipe, secrets blanked, written to a file that
never grows past a bound while ExaBGP runs.

The state directory is a 32 Mi memory emptyDir in the DaemonSet: a log ExaBGP wrote
itself would grow until the pod is evicted (at debug level it logs every UPDATE), and
it would hold the MD5 passwords (ExaBGP logs every configuration statement, again on
every reload). Reading its output here puts both under the speaker's control: each line
is redacted before it touches the disk, and the file is rotated (one `.1` kept) as soon
as the next line would take it past `max_bytes`, so the two files never hold more than
2 x `max_bytes`. Every file is created 0600.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from metallb.logs import log_event

log = logging.getLogger(__name__)

REDACTED = "<redacted>"
_MD5_STATEMENT = re.compile(  # `md5-password "x";`, `. md5-password | 'x'`, `'md5_password': 'x'`
    r"(md5[-_]password['\"]?[\s|:=]*['\"]?)(?!" + REDACTED + r")[^\s;'\",}|]+", re.IGNORECASE)


def redactor(secrets: Callable[[], Iterable[str]]) -> Callable[[str], str]:
    """A function that blanks every current secret in a line, and any value written
    after `md5-password` (a secret this speaker no longer knows, say)."""

    def redact(line: str) -> str:
        for secret in secrets():
            if secret:
                line = line.replace(secret, REDACTED)
        return _MD5_STATEMENT.sub(lambda m: m.group(1) + REDACTED, line)

    return redact


def open_private(path: Path, flags: int) -> int:
    """A file descriptor of `path`, created 0600 (and made 0600 if it existed)."""
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


class BoundedLog:
    """A log file of at most `max_bytes`, rotated to `<name>.1` while being written.

    Always holds: the file plus its `.1` hold at most 2 x `max_bytes`; a line longer
    than `max_bytes` is cut to it. Threads: `copy` runs on one reader thread per ExaBGP
    process (an old one may still drain while a new one starts), `tail` on any thread;
    the lock guards the open file and its size. Nothing here blocks for long: a slow
    disk would slow ExaBGP, which waits on the pipe.
    """

    def __init__(self, path: Path, max_bytes: int, redact: Callable[[str], str]):
        self.path = path
        self.max_bytes = max(1, max_bytes)
        self._redact = redact
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0

    def copy(self, stream: IO[bytes]) -> None:
        """Copy `stream` line by line until EOF (ExaBGP and its children exited)."""
        with contextlib.suppress(OSError, ValueError):
            for raw in stream:
                self.write(raw.decode(errors="replace"))
        with contextlib.suppress(OSError):
            stream.close()

    def write(self, line: str) -> None:
        """Append one line, redacted (rotating first when it would not fit)."""
        data = self._redact(line).encode()[: self.max_bytes]
        with self._lock:
            try:
                if self._fd is None:
                    self._open()
                elif self._size + len(data) > self.max_bytes:
                    self._rotate()
                assert self._fd is not None
                os.write(self._fd, data)
                self._size += len(data)
            except OSError as exc:  # a full disk must not stop ExaBGP: drop the line
                log_event(log, "warn", "exabgp_log_write_failed", path=self.path,
                          error=str(exc))

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def tail(self, lines: int = 5) -> str:
        """The last `lines` lines, joined by " | " (already redacted)."""
        try:
            text = self.path.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(text[-lines:])

    def _open(self) -> None:
        self._fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
        self._size = os.fstat(self._fd).st_size
        if self._size > self.max_bytes:  # left from an earlier run with a larger bound
            self._rotate()

    def _rotate(self) -> None:
        """The file becomes `.1` and a new empty one takes its name; `path` never goes
        missing on the way (readers of the tail, `tail -F`)."""
        if self._fd is not None:
            os.close(self._fd)
        older = self.path.with_name(self.path.name + ".1")
        fresh = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            older.unlink()
        os.link(self.path, older)
        self._fd = open_private(fresh, os.O_WRONLY | os.O_APPEND | os.O_TRUNC)
        os.replace(fresh, self.path)
        self._size = 0
