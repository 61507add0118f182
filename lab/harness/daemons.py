"""The daemons as child processes (`python -m controller`, `python -m speaker`), on port 0,
each with its log in a file; stopped by PID only.

A daemon binds its metrics port itself (`--port 0`) and logs the address at start-up;
`port` reads it back from that line, so no port is ever picked and released first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from lab.harness.http import daemon_ready
from lab.netns import Node, netns_pids
from lab.ports import DAEMON_METRICS, logged_address, port_of
from metallb import childproc
from metallb.component.labels import NAMESPACE
from metallb.wait import poll_until

REPO = Path(__file__).resolve().parents[2]


class DaemonProcess:
    """One daemon child process with its log in `log_path`.

    Owned by the thread that made it: no lock. `port` blocks (up to `port_timeout`)
    until the daemon logged the address it bound, and fails at once if it exited.
    """

    port_timeout = 60.0

    def __init__(self, module: str, args: list[str], log_path: Path):
        self.log_path = log_path
        self._port: int | None = None
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", "0", *args],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)})

    def bound_port(self) -> int | None:
        """The metrics port once the daemon logged it, else None."""
        if self._port is None:
            address = logged_address(self.log_path, DAEMON_METRICS)
            self._port = port_of(address) if address else None
        return self._port

    @property
    def port(self) -> int:
        def known() -> int | None:
            if self.proc.poll() is not None and self.bound_port() is None:
                raise RuntimeError(f"{self.log_path.name}: exited with {self.proc.returncode} "
                                   f"before listening: {self.log_text()[-2000:]}")
            return self.bound_port()

        return poll_until(known, self.port_timeout, what=f"{self.log_path.name} to listen")

    def ready(self) -> bool:
        """/readyz answers 200 (False before the daemon listens)."""
        port = self.bound_port()
        return port is not None and daemon_ready(port)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        try:
            childproc.terminate(self.proc, 15, kill_timeout=10)
        finally:
            self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


class ControllerProcess(DaemonProcess):
    """`python -m controller` with its own identity (for leader election)."""

    def __init__(self, kubeconfig: Path, log_dir: Path, identity: str, *extra: str,
                 lease_duration: float = 2.0):
        self.identity = identity
        super().__init__("controller", [
            "--kubeconfig", str(kubeconfig), "--identity", identity,
            "--lease-duration", str(lease_duration), *extra],
            log_dir / f"controller-{identity}.log")


class SpeakerProcess(DaemonProcess):
    """`python -m speaker` for one node (ExaBGP inside the node's namespace)."""

    def __init__(self, kubeconfig: Path, workdir: Path, node_name: str, node: Node,
                 generation: int, *extra: str):
        self.node_name, self.node = node_name, node
        super().__init__("speaker", [
            "--node-name", node_name, "--kubeconfig", str(kubeconfig),
            "--namespace", NAMESPACE, "--exabgp-netns", node.netns,
            "--state-dir", str(workdir / f"s-{node_name}"), *extra],
            workdir / f"speaker-{node_name}-{generation}.log")

    def exabgp_pids(self) -> list[int]:
        """Processes in the node's namespace: ExaBGP and its relay, nothing else."""
        return netns_pids(self.node.netns)

    def stop(self) -> None:
        try:
            childproc.terminate(self.proc, 20, kill_timeout=10)
        finally:
            self._log.close()
            for pid in self.exabgp_pids():  # an ExaBGP orphaned by a kill -9
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
