"""Helpers for the controller's live tests: manifests, reading statuses, metrics, and
controller subprocesses (killed by PID only)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from metallb import childproc
from metallb.kube.errors import is_conflict, is_not_found
from metallb.wait import poll_until
from tests.support.http import daemon_ready, fetch

NAMESPACE = "metallb-system"
CONFIG_NAME = "metallb"
ALLOCATED_FROM_POOL_ANNOTATION = "metallb.io/ip-allocated-from-pool"


def service(name: str, namespace: str = "demo", *, port: int = 80, annotations=None,
            type_: str = "LoadBalancer", **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {"type": type_, "ports": [{"port": port, "protocol": "TCP"}],
                 "selector": {"app": name}, **spec},
    }
    return body


def ensure_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.create_namespace({"metadata": {"name": name}})
    except ApiException as err:
        if not is_conflict(err):
            raise


def put_config(core: client.CoreV1Api, text: str, name: str = CONFIG_NAME) -> None:
    """Create or replace the controller's ConfigMap."""
    ensure_namespace(core, NAMESPACE)
    body = {"metadata": {"name": name, "namespace": NAMESPACE}, "data": {"config": text}}
    try:
        core.replace_namespaced_config_map(name, NAMESPACE, body)
    except ApiException as err:
        if not is_not_found(err):
            raise
        core.create_namespaced_config_map(NAMESPACE, body)


def ingress_ips(obj: Any) -> list[str]:
    lb = obj.status.load_balancer if obj.status else None
    return [i.ip for i in (lb.ingress or [])] if lb else []


def statuses(core: client.CoreV1Api, namespace: str | None = None) -> dict[str, list[str]]:
    """`ns/name` -> ingress IPs of every Service (all namespaces by default)."""
    items = (core.list_namespaced_service(namespace).items if namespace
             else core.list_service_for_all_namespaces().items)
    return {f"{s.metadata.namespace}/{s.metadata.name}": ingress_ips(s) for s in items}


def wait_statuses(core: client.CoreV1Api, expected: dict[str, list[str]],
                  timeout: float = 15.0) -> dict[str, list[str]]:
    """Until every key in `expected` has exactly those ingress IPs."""
    def matches():
        now = statuses(core)
        return now if all(now.get(k) == v for k, v in expected.items()) else None

    try:
        return poll_until(matches, timeout=timeout, what=f"statuses {expected}")
    except TimeoutError:
        now = statuses(core)
        diff = {k: (v, now.get(k)) for k, v in expected.items() if now.get(k) != v}
        raise AssertionError(f"statuses never matched; (expected, actual): {diff}") from None


def event_reasons(core: client.CoreV1Api, namespace: str, name: str) -> list[str]:
    return sorted({e.reason for e in core.list_namespaced_event(namespace).items
                   if e.involved_object.name == name})


def metric_value(port: int, sample: str) -> float | None:
    """The value of one sample line (`name{labels}` exactly as exported), or None."""
    _, text = fetch(f"http://127.0.0.1:{port}/metrics")
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_unique_and_kept(before: dict[str, list[str]], after: dict[str, list[str]]) -> None:
    """No address changed for a service that had one, and none is held twice
    (no test here uses sharing)."""
    changed = {k: (v, after.get(k)) for k, v in before.items() if v and after.get(k) != v}
    assert not changed, f"addresses changed hands: {changed}"
    held: dict[str, str] = {}
    for key, ips in after.items():
        for ip in ips:
            assert ip not in held, f"{ip} held by both {held[ip]} and {key}"
            held[ip] = key


class ControllerProcess:
    """`python -m controller` as a child process; its log goes to a file."""

    def __init__(self, kubeconfig: Path, log_dir: Path, identity: str, *extra: str,
                 lease_duration: float = 2.0):
        self.identity = identity
        self.port = free_port()
        self.log_path = log_dir / f"controller-{identity}.log"
        args = [sys.executable, "-m", "controller", "--kubeconfig", str(kubeconfig),
                "--host", "127.0.0.1", "--port", str(self.port), "--identity", identity,
                "--lease-duration", str(lease_duration), *extra]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        root = Path(__file__).resolve().parents[3]
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=root, env={**os.environ, "PYTHONPATH": str(root)})

    def ready(self) -> bool:
        try:
            return daemon_ready(self.port)
        except OSError:
            return False

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
