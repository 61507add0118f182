"""Reading the daemons' HTTP endpoint (/metrics, /healthz, /readyz) in tests and benches."""

from __future__ import annotations

import urllib.error
import urllib.request


def fetch(url: str) -> tuple[int, str]:
    """(status, body); an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def daemon_ready(port: int, host: str = "127.0.0.1") -> bool:
    """The daemon on `port` answers /readyz with 200 (False while it cannot be reached)."""
    try:
        return fetch(f"http://{host}:{port}/readyz")[0] == 200
    except OSError:
        return False
