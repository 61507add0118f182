"""Run the real `python -m metallb lab ...` as a subprocess against a lab of the test's
own (state directory and namespace prefix unique to this run), and check that nothing
of it is left behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lab.harness.requires import require_frr, require_program
from lab.netns import list_netns
from lab.processes import pids_referencing
from lab.state import PREFIX_ENV, STATE_DIR_ENV

REPO = Path(__file__).resolve().parents[2]
_runs = iter(range(1_000_000))


@dataclass(frozen=True)
class LabEnv:
    state_dir: Path
    prefix: str

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, STATE_DIR_ENV: str(self.state_dir), PREFIX_ENV: self.prefix}

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "metallb", "lab", *args],
                              capture_output=True, text=True, env=self.env, cwd=REPO,
                              timeout=timeout, check=False)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "metallb", "lab", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=self.env, cwd=REPO)

    def namespaces(self) -> list[str]:
        return list_netns(self.prefix)

    def leftovers(self) -> list[str]:
        """Everything of this lab still present: namespaces, processes, files."""
        found = [f"namespace {n}" for n in self.namespaces()]
        found += [f"process {p}" for p in pids_referencing(str(self.state_dir) + "/")]
        if self.state_dir.exists():
            found.append(f"directory {self.state_dir}")
        return found


def require_lab() -> None:
    require_frr()
    require_program("ip", "iproute2")
    require_program("prometheus", "prometheus")


@contextlib.contextmanager
def lab_env() -> Iterator[LabEnv]:
    """A unique short state dir (ExaBGP's Unix socket paths must stay short) and prefix;
    `down` in `finally`, so a failing test leaves nothing behind either."""
    require_lab()
    parent = Path(tempfile.mkdtemp(prefix="mlt"))
    parent.chmod(0o711)  # FRR's daemons (user frr) must reach STATE/frr
    lab = LabEnv(parent / "lab", f"mlt{os.getpid()}x{next(_runs)}")
    try:
        yield lab
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            lab.run("down", timeout=60)
        shutil.rmtree(parent, ignore_errors=True)
