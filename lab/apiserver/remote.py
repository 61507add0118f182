"""The emulator in another process: start/stop `metallb lab apiserver` and drive its
faults over HTTP (`/_emulator/faults`), with the same methods as `Faults`."""

from __future__ import annotations

import json
import os
import select
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from metallb.childproc import terminate
from metallb.logs import parse_event


def control_call(base_url: str, what: str, method: str = "GET",
                 body: dict[str, Any] | None = None, token: str | None = None,
                 cafile: str | None = None) -> dict[str, Any]:
    """One request to the emulator's control endpoint /_emulator/<what>."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base_url.rstrip('/')}/_emulator/{what}", data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return json.loads(response.read())


class RemoteFaults:
    """`Faults` of a server in another process, over its control endpoint."""

    def __init__(self, url: str, token: str | None = None, cafile: str | None = None):
        self.url = url
        self.token = token
        self.cafile = cafile

    def _call(self, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return control_call(self.url, "faults", method, body, self.token, self.cafile)

    def _action(self, action: str, **fields: Any) -> dict[str, Any]:
        body = {"action": action}
        body.update({k: sorted(v) if isinstance(v, set | frozenset) else v
                     for k, v in fields.items() if v is not None})
        return self._call("POST", body)

    def to_dict(self) -> dict[str, Any]:
        return self._call("GET")

    def reseed(self, seed: int) -> None:
        self._action("seed", seed=seed)

    def fail_share(self, share: float, code: int = 500, verbs: Any = None,
                   resources: Any = None) -> None:
        self._action("fail_share", share=share, code=code, verbs=verbs, resources=resources)

    def force_status(self, code: int, count: int = 1, verbs: Any = None,
                     resources: Any = None) -> None:
        self._action("force_status", code=code, count=count, verbs=verbs, resources=resources)

    def add_latency(self, seconds: float, verbs: Any = None, resources: Any = None) -> None:
        self._action("add_latency", seconds=seconds, verbs=verbs, resources=resources)

    def cut_watches(self) -> int:
        return int(self._action("cut_watches")["cut"])

    def expire_history(self) -> None:
        self._action("expire_history")

    def clear(self) -> None:
        self._call("DELETE")


class ApiServerProcess:
    """`metallb lab apiserver` as a child process; ready once it printed its URL."""

    def __init__(self, kubeconfig: str | os.PathLike, port: int = 0, token: str | None = None,
                 seed: int | None = None, extra_args: tuple[str, ...] = ()):
        self.kubeconfig = Path(kubeconfig)
        self.port = port
        self.token = token
        self.seed = seed
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.ca_cert = ""  # the server's certificate when it serves HTTPS (--tls)

    def start(self, timeout: float = 20.0) -> ApiServerProcess:
        cmd = [sys.executable, "-m", "metallb", "lab", "apiserver", "--port", str(self.port),
               "--kubeconfig", str(self.kubeconfig), *self.extra_args]
        if self.token:
            cmd += ["--token", self.token]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                line = self.process.stdout.readline()
                if not line and self.process.poll() is not None:
                    break
                fields = parse_event(line)
                if fields.get("event") == "apiserver_listening":
                    self.url = fields["url"]
                    self.ca_cert = fields.get("ca", "")
                    return self
            elif self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"`{' '.join(cmd)}` did not report listening within {timeout}s")

    def service_account_token(self, namespace: str, name: str) -> str:
        """A new bearer token of the ServiceAccount namespace/name on this server."""
        return str(control_call(self.url, "tokens", "POST",
                                {"namespace": namespace, "name": name}, self.token,
                                self.ca_cert or None)["token"])

    def denials(self) -> list[dict[str, str]]:
        """Every request the server's RBAC refused (GET /_emulator/denials)."""
        return list(control_call(self.url, "denials", "GET", None, self.token,
                                 self.ca_cert or None)["denials"])

    def requests(self) -> dict[str, Any]:
        """The request counters (GET /_emulator/requests): per (user, verb, resource)
        requests, bytes sent and open watches since the start; `openWatches` in all."""
        return control_call(self.url, "requests", "GET", None, self.token,
                            self.ca_cert or None)

    @property
    def faults(self) -> RemoteFaults:
        return RemoteFaults(self.url, self.token, self.ca_cert or None)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (by PID), then SIGKILL if it does not exit in time; returns the code."""
        if self.process is None:
            return None
        terminate(self.process, timeout, kill_timeout=timeout)
        if self.process.stdout:
            self.process.stdout.close()
        code = self.process.returncode
        self.process = None
        return code

    def __enter__(self) -> ApiServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
