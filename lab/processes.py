"""Detached lab processes: start them with their output in a log file, identify them by
PID *and* start time (so a recycled PID is never signalled), stop them by PID.

The lab's daemons outlive the `metallb lab up` command that started them, so each runs
in its own session and is remembered in the state file; `down` finds them again there,
or, when the state file is gone, by the state directory in their command line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.frr import pid_alive
from metallb.wait import WaitTimeout, poll_until


@dataclass(frozen=True)
class LabProcess:
    """One detached process: `name` for people, `pid` + `start_ticks` for the kernel."""

    name: str
    pid: int
    start_ticks: int
    log: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LabProcess:
        return cls(name=str(data["name"]), pid=int(data["pid"]),  # type: ignore[arg-type]
                   start_ticks=int(data["start_ticks"]),  # type: ignore[arg-type]
                   log=str(data["log"]))

    def running(self) -> bool:
        """True while this very process (not a later one reusing its PID) is alive."""
        return pid_alive(self.pid) and start_ticks(self.pid) == self.start_ticks

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = Path(self.log).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[19])


def spawn(name: str, cmd: Sequence[str], log_path: Path,
          env: dict[str, str] | None = None) -> LabProcess:
    """Start `cmd` detached (own session, stdin closed, stdout+stderr to `log_path`)."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})})
    _children[proc.pid] = proc
    ticks = start_ticks(proc.pid)
    return LabProcess(name=name, pid=proc.pid, start_ticks=ticks or 0, log=str(log_path))


# Children started by this very command: polled so one that dies is reaped at once
# instead of staying a zombie (which would still look alive) while `up` waits.
_children: dict[int, subprocess.Popen[bytes]] = {}


def alive(process: LabProcess) -> bool:
    child = _children.get(process.pid)
    if child is not None and child.poll() is not None:
        return False
    return process.running()


def stop_all(processes: Iterable[LabProcess], timeout: float = 10.0) -> list[str]:
    """SIGTERM every still-running process at once, wait, SIGKILL what outlives
    `timeout`. Returns the names of the processes that had to be killed."""
    targets = [p for p in processes if alive(p)]
    for p in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGTERM)
    try:
        poll_until(lambda: not any(alive(p) for p in targets), timeout,
                   what="lab processes to exit after SIGTERM")
        return []
    except WaitTimeout:
        killed = [p for p in targets if alive(p)]
        for p in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
        poll_until(lambda: not any(alive(p) for p in killed), 5.0,
                   what="lab processes to die after SIGKILL")
        return [p.name for p in killed]


def pids_referencing(text: str) -> list[int]:
    """PIDs of live processes whose command line contains `text` (e.g. the lab's state
    directory): how `down` finds the lab's processes when the state file is gone."""
    found = []
    own = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def orphans(pids: Iterable[int]) -> list[LabProcess]:
    """LabProcess records for bare PIDs found by `pids_referencing`."""
    out = []
    for pid in pids:
        ticks = start_ticks(pid)
        if ticks is not None:
            out.append(LabProcess(name=f"pid {pid}", pid=pid, start_ticks=ticks, log=""))
    return out
