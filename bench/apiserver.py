"""Benchmark the Kubernetes API emulator through the official client over HTTP.

Runs `metallb lab apiserver` as a separate process (so the client's threads do not
compete with the server for one GIL) and prints a table:
  - creating N Services (default 10,000; 4 client threads), then listing them;
  - latency from a write (patch) to its watch event, with 1 and with 50 watchers
    (p50 / p99 over the same number of writes).
Ratios are against a baseline measured in the same run: a bare GET /version round trip.

    python3 bench/apiserver.py [--services 10000] [--writes 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import kubernetes
from kubernetes import client

from bench.report import Report, add_json_flag
from lab.apiserver import ApiServerProcess


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def new_client(kubeconfig: Path) -> client.ApiClient:
    return kubernetes.config.new_client_from_config(str(kubeconfig))


def baseline(kubeconfig: Path, rounds: int = 300) -> float:
    api = new_client(kubeconfig)
    version = client.VersionApi(api)
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        version.get_code(_preload_content=False).read()
        timings.append(time.perf_counter() - started)
    api.close()
    return statistics.median(timings)


def create_services(kubeconfig: Path, count: int, threads: int = 4) -> float:
    local = threading.local()

    def create(i: int) -> None:
        if not hasattr(local, "core"):
            local.core = client.CoreV1Api(new_client(kubeconfig))
        local.core.create_namespaced_service("default", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
            # 10k services need more node ports than exist (30000-32767): skip them, as
            # MetalLB users with many services do
            "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False,
                     "ports": [{"port": 80}]}},
            _preload_content=False).read()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, range(count)))
    return time.perf_counter() - started


def list_services(kubeconfig: Path, expected: int) -> float:
    core = client.CoreV1Api(new_client(kubeconfig))
    started = time.perf_counter()
    raw = core.list_namespaced_service("default", _preload_content=False).read()
    elapsed = time.perf_counter() - started
    items = json.loads(raw)["items"]
    if len(items) != expected:
        raise SystemExit(f"list returned {len(items)} services, expected {expected}")
    return elapsed


class Watchers:
    """`n` raw watch streams; records when each sees the write numbered by label `seq`."""

    def __init__(self, kubeconfig: Path, n: int, rv: str):
        self.received: dict[int, list[float]] = {}
        self.cond = threading.Condition()
        self.responses = []
        for _ in range(n):
            core = client.CoreV1Api(new_client(kubeconfig))
            response = core.list_namespaced_service(
                "default", watch=True, resource_version=rv, timeout_seconds=600,
                field_selector="metadata.name=probe", _preload_content=False)
            self.responses.append(response)
            threading.Thread(target=self._read, args=(response,), daemon=True).start()

    def _read(self, response) -> None:
        buffer = b""
        try:
            for chunk in response.stream(65536, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    now = time.perf_counter()
                    event = json.loads(line)
                    seq = (event["object"]["metadata"].get("labels") or {}).get("seq")
                    if seq is not None:
                        with self.cond:
                            self.received.setdefault(int(seq), []).append(now)
                            self.cond.notify_all()
        except Exception:  # the stream closes when the server stops
            return

    def wait_for(self, seq: int, count: int, timeout: float = 30.0) -> list[float]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.received.get(seq, [])) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"write {seq}: only {len(self.received.get(seq, []))} "
                                     f"of {count} watchers saw it within {timeout}s")
                self.cond.wait(left)
            return list(self.received[seq])

    def close(self) -> None:
        for response in self.responses:
            response.release_conn()


def watch_latency(kubeconfig: Path, watchers: int, writes: int) -> list[float]:
    core = client.CoreV1Api(new_client(kubeconfig))
    rv = core.list_namespaced_service("default", limit=1).metadata.resource_version
    streams = Watchers(kubeconfig, watchers, rv)
    latencies = []
    for seq in range(writes):
        started = time.perf_counter()
        core.patch_namespaced_service("probe", "default", {"metadata": {"labels": {
            "seq": str(seq)}}}, _preload_content=False).read()
        latencies += [t - started for t in streams.wait_for(seq, watchers)]
    streams.close()
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=200)
    add_json_flag(parser)
    args = parser.parse_args(argv)
    report = Report("apiserver", args)
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        with ApiServerProcess(kubeconfig, extra_args=("--history-limit", "50000")):
            floor = baseline(kubeconfig)
            created = create_services(kubeconfig, args.services)
            listed = list_services(kubeconfig, args.services)
            client.CoreV1Api(new_client(kubeconfig)).create_namespaced_service("default", {
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "probe"},
                "spec": {"ports": [{"port": 80}]}})
            one = watch_latency(kubeconfig, 1, args.writes)
            fifty = watch_latency(kubeconfig, 50, args.writes)
    per_create = created / args.services
    rows = [
        ("GET /version round trip (baseline)", f"{floor * 1000:.2f} ms", "1.0"),
        (f"create {args.services} Services (4 threads; ratio per create)",
         f"{created:.1f} s ({args.services / created:.0f}/s)",
         f"{per_create / floor:.1f}"),
        (f"list {args.services} Services", f"{listed * 1000:.0f} ms", f"{listed / floor:.0f}"),
        ("write -> watch event, 1 watcher, p50", f"{percentile(one, .5) * 1000:.2f} ms",
         f"{percentile(one, .5) / floor:.1f}"),
        ("write -> watch event, 1 watcher, p99", f"{percentile(one, .99) * 1000:.2f} ms",
         f"{percentile(one, .99) / floor:.1f}"),
        ("write -> watch event, 50 watchers, p50", f"{percentile(fifty, .5) * 1000:.2f} ms",
         f"{percentile(fifty, .5) / floor:.1f}"),
        ("write -> watch event, 50 watchers, p99", f"{percentile(fifty, .99) * 1000:.2f} ms",
         f"{percentile(fifty, .99) / floor:.1f}"),
    ]
    report.table("apiserver", ("measurement", "result", "x baseline"), rows)
    report.set("raw", {"baseline_s": floor, "create_s": created, "list_s": listed,
                       "watch_1_s": one, "watch_50_s": fifty})
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
