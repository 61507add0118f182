"""A real Prometheus for the lab: a scrape config for the controller and every speaker,
the process started detached on loopback, and queries over its HTTP API.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from lab.errors import LabError
from lab.processes import LabProcess, spawn

PROMETHEUS = "prometheus"
INSTALL_HINT = ("apt-get install -y --no-install-recommends prometheus "
                "(or run scripts/setup.sh)")


def require_prometheus() -> str:
    path = shutil.which(PROMETHEUS)
    if path is None:
        raise LabError(f"Prometheus is not installed: {INSTALL_HINT}")
    return path


def scrape_config(targets: dict[str, str]) -> str:
    """Prometheus YAML scraping each `name -> host:port` every second; the `component`
    label tells the controller from the speakers, `node` names the speaker's node."""
    jobs = []
    for name, address in sorted(targets.items()):
        component, _, node = name.partition("-")
        labels = {"component": component}
        if node:
            labels["node"] = node
        jobs.append({"targets": [address], "labels": labels})
    document = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "metallb", "static_configs": jobs}],
    }
    return yaml.safe_dump(document, sort_keys=False)


def start_prometheus(workdir: Path, targets: dict[str, str]) -> LabProcess:
    """Write the config, start Prometheus detached on port 0; its log names the port it
    bound (`lab.ports.PROMETHEUS_LISTENING`, logged at level info)."""
    binary = require_prometheus()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(scrape_config(targets))
    return spawn("prometheus", [
        binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
        "--web.listen-address=127.0.0.1:0", "--log.level=info",
    ], workdir / "prometheus.log")


def _get(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def query(url: str, promql: str) -> list[tuple[dict[str, str], float]]:
    """Instant query: (labels, value) per series; empty while nothing was scraped yet."""
    data = _get(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
    if data.get("status") != "success":
        raise LabError(f"Prometheus query {promql!r} failed: {data.get('error')}")
    return [(dict(r["metric"]), float(r["value"][1])) for r in data["data"]["result"]]
