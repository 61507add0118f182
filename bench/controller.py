"""Controller benchmark: how long until N new Services all have an address, against the
API emulator's own floor measured in the same run.

For each N (default 1k and 10k) it starts a fresh emulator process and a real controller
process (`python -m controller`, leader election on, as deployed), creates N IPv6
Services from the benchmark process (4 client threads) and watches them, and reports:

  all assigned s     first create sent -> last status seen (the watch in this process)
  svc/s              N / that time
  p50 / p99 ms       per service: create sent -> its status with an address seen
  RSS MiB            controller VmRSS at the end (VmHWM = peak, in brackets)
  floor s            the emulator alone, the issue's floor: a fresh emulator, the same N
                     Services created by the same 4 client threads, each thread writing
                     the Service's status itself right after its create; no watch, no
                     controller; first create sent -> last status write answered
  ratio              all-assigned time / floor s: 1.0 would mean the controller adds
                     nothing beyond the two API writes per service
  rig floor s        the floor with the measured run's instrument: the same writes,
                     clocked by the same watch from the first create to the last status
                     seen. Unlike the floor it pays for the bench's own watch (the
                     emulator serializes every change to it and this process parses it,
                     on the same 2 cores), which the measured run pays too.
  rig ratio          all-assigned time / rig floor s
                     (Results before 2026-12-01c measured the floor on min(N, 2,000)
                     ClusterIP Services inside the measured run's emulator, in ms/svc.)
  status settled s   (status on) first create -> the IPAddressPool's status says N
                     assigned: how far the rate-limited status writes trail behind
  CPU ms/svc         user + system CPU of the controller and of the emulator process
                     from the first create to the last status seen, per service: where
                     the time goes (the bench's own client threads are not in either)

`--write-threads 4,0` runs each size with the controller's writer threads as given (0:
the one worker writes itself, as before the pipeline), to compare.

`--status on,off` runs each size with the controller's status objects (pool counts,
Service conditions, ConfigurationState) written and not written, to compare their cost;
with `on` the metallb.io CRDs and an IPAddressPool object for the pool are installed,
so the pool's status is really written.

The controller writes per service one status patch (which carries the pool annotation,
as upstream's UpdateStatus) and an Event (rate-limited, from a thread of its own); the
emulator also sends every change to two watchers (the controller and this script).

Run: python3 bench/controller.py [--sizes 1000,10000,100000] [--status on,off]
[--write-threads 4,0] [--pool 2001:db8::/64]
(about 2-4 minutes per size and setting at 10k on 2 cores, ~10x that at 100k)

Addresses come from --pool (default 2001:db8::/64, documentation range, room for any
size); nothing is announced.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubernetes import client, config  # noqa: E402

from bench.memory import rss_mib  # noqa: E402
from bench.report import Report, add_json_flag  # noqa: E402
from lab.apiserver import ApiServerProcess  # noqa: E402
from lab.harness.daemons import DaemonProcess  # noqa: E402
from lab.harness.status_watch import StatusWatch  # noqa: E402
from metallb.component.render import crd_objects  # noqa: E402
from metallb.wait import poll_until  # noqa: E402

POOL = "2001:db8::/64"
THREADS = 4


def _service(name: str, namespace: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "LoadBalancer", "ipFamilies": ["IPv6"],
                 "ipFamilyPolicy": "SingleStack", "ports": [{"port": 80}],
                 # 10k services would exhaust the 2,768 node ports.
                 "allocateLoadBalancerNodePorts": False},
    }


def _parallel(fn, items) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        for _ in pool.map(fn, items):
            pass


def _create_with_status(core: client.CoreV1Api, namespace: str, body: dict,
                        status: dict) -> None:
    """One create, then one status patch: the two writes of a floor."""
    # Responses read to their end, so connections are reused (an unread one is never
    # given back to the pool: each request would pay a new connection).
    core.create_namespaced_service(namespace, body, _preload_content=False).drain_conn()
    core.patch_namespaced_service_status(body["metadata"]["name"], namespace, status,
                                         _preload_content=False).drain_conn()


def _until_all_seen(watch: StatusWatch, count: int, start: float) -> float:
    """Seconds from `start` until the watch saw the last of `count` statuses."""
    poll_until(lambda: len(watch.seen) >= count, timeout=max(120, count / 10),
               interval=0.05, what=f"{count} services with an address")
    return max(seen for seen, _ip in watch.seen.values()) - start


def measure_floors(count: int, workdir: Path, run: str) -> tuple[float, float]:
    """(floor s, rig floor s) for `count` Services, each on a fresh emulator of its own:
    the same create-then-status writes, without and with the bench's watch."""
    return (_floor(count, workdir, f"{run}-floor", watched=False),
            _floor(count, workdir, f"{run}-rig", watched=True))


def _floor(count: int, workdir: Path, run: str, watched: bool) -> float:
    """Seconds from the first create to the last status: answered (not `watched`) or
    seen by the watch."""
    kubeconfig = workdir / f"kubeconfig-{run}"
    server = ApiServerProcess(kubeconfig, extra_args=("--history-limit", "100000")).start()
    try:
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        core.create_namespace({"metadata": {"name": "bench"}})
        watch = StatusWatch(core, "bench").start() if watched else None

        def one(i: int) -> None:
            _create_with_status(core, "bench", _service(f"s{i:05d}", "bench"), {
                "status": {"loadBalancer": {"ingress": [
                    {"ip": str(ipaddress.ip_address("2001:db8::1") + i)}]}}})

        start = time.perf_counter()
        _parallel(one, range(count))
        if watch is None:
            return time.perf_counter() - start
        total = _until_all_seen(watch, count, start)
        watch.stop()
        return total
    finally:
        server.stop()


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _config(pool: str) -> str:
    return f"address-pools:\n- {{name: v6, protocol: bgp, addresses: [{pool}]}}\n"


def _install_pool_object(api: client.ApiClient, pool: str) -> None:
    """The metallb.io CRDs and an IPAddressPool `v6` to carry the pool's status."""
    ext = client.ApiextensionsV1Api(api)
    for crd in crd_objects():
        ext.create_custom_resource_definition(crd)
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        "metallb.io", "v1beta1", "metallb-system", "ipaddresspools", {
            "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "v6"}, "spec": {"addresses": [pool]}})


def _pool_assigned(api: client.ApiClient) -> int:
    pool = client.CustomObjectsApi(api).get_namespaced_custom_object_status(
        "metallb.io", "v1beta1", "metallb-system", "ipaddresspools", "v6")
    return (pool.get("status") or {}).get("assignedIPv6", -1)


def run_size(count: int, workdir: Path, status: str = "on", write_threads: int = 4,
             pool: str = POOL, round_no: int = 0) -> dict:
    # a name of its own per run: a repeated size must not find the last run's log (and
    # read the port the last controller bound from its start line)
    run = f"{count}-{status}-{write_threads}-{round_no}"
    floor, rig_floor = measure_floors(count, workdir, run)
    kubeconfig = workdir / f"kubeconfig-{run}"
    server = ApiServerProcess(kubeconfig, extra_args=("--history-limit", "100000")).start()
    controller = None
    try:
        api = config.new_client_from_config(config_file=str(kubeconfig))
        core = client.CoreV1Api(api)
        for ns in ("metallb-system", "bench"):
            core.create_namespace({"metadata": {"name": ns}})
        core.create_namespaced_config_map("metallb-system", {
            "metadata": {"name": "metallb"}, "data": {"config": _config(pool)}})
        if status == "on":
            _install_pool_object(api, pool)
        # At its default log level: the start line names the port it bound.
        controller = DaemonProcess("controller", ["--kubeconfig", str(kubeconfig),
                                                  "--status", status,
                                                  "--write-threads", str(write_threads)],
                                   workdir / f"controller-{run}.log")
        poll_until(controller.ready, timeout=30, what="controller ready")
        watch = StatusWatch(core, "bench").start()
        created: dict[str, float] = {}

        def create(name: str) -> None:
            created[name] = time.perf_counter()
            core.create_namespaced_service("bench", _service(name, "bench"),
                                           _preload_content=False).drain_conn()

        names = [f"s{i:05d}" for i in range(count)]
        pids = {"controller": controller.proc.pid, "emulator": server.process.pid}
        cpu_before = {name: _cpu_s(pid) for name, pid in pids.items()}
        start = time.perf_counter()
        _parallel(create, names)
        total = _until_all_seen(watch, count, start)
        cpu = {name: _cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
        watch.stop()
        settled = None
        if status == "on":
            poll_until(lambda: _pool_assigned(api) == count, timeout=max(60, count / 10),
                       interval=0.05, what="the pool's status says every address assigned")
            settled = time.perf_counter() - start
        latencies = sorted((watch.seen[n][0] - created[n]) * 1000 for n in names)
        rss, peak = rss_mib(controller.proc.pid)
        return {
            "count": count, "status": status, "write_threads": write_threads,
            "pool": pool, "settled": settled, "total": total,
            "p50": statistics.median(latencies),
            "p99": latencies[int(len(latencies) * 0.99) - 1], "rss": rss, "peak": peak,
            "floor_s": floor, "ratio": total / floor,
            "rig_floor_s": rig_floor, "rig_ratio": total / rig_floor,
            "controller_cpu_ms": cpu["controller"] * 1000 / count,
            "emulator_cpu_ms": cpu["emulator"] * 1000 / count,
        }
    finally:
        if controller is not None:
            controller.stop()
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000",
                        help="comma-separated service counts (default: 1000,10000)")
    parser.add_argument("--status", default="on",
                        help="comma-separated: the controller's --status for each run, "
                        "on and/or off (default: on)")
    parser.add_argument("--write-threads", default="4",
                        help="comma-separated: the controller's --write-threads for each "
                        "run (default: 4; 0 = the worker writes itself)")
    parser.add_argument("--pool", default=POOL,
                        help=f"the address pool (default: {POOL})")
    add_json_flag(parser)
    args = parser.parse_args()
    report = Report("controller", args)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    settings = [s.strip() for s in args.status.split(",") if s.strip()]
    if not settings or set(settings) - {"on", "off"}:
        parser.error("--status takes on, off or on,off")
    threads = [int(t) for t in args.write_threads.split(",") if t.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-controller-") as tmp:
        for i, count in enumerate(sizes):
            # the settings' order reversed every other size, so neither always runs first
            # (`--sizes 10000,10000,10000 --status on,off`: three paired rounds)
            for status in (settings if i % 2 == 0 else settings[::-1]):
                for writers in threads:
                    rows.append(run_size(count, Path(tmp), status, writers, args.pool, i))
                    # each row as it comes: a long run cut short keeps what it measured
                    print(f"measured {count} services, status {status}, write threads "
                          f"{writers}: {json.dumps(rows[-1])}", file=sys.stderr)
    report.table("controller", ("services", "status", "writers", "all assigned s", "svc/s",
                                "p50 ms",
                                "p99 ms", "controller RSS MiB (peak)", "floor s", "ratio",
                                "rig floor s", "rig ratio",
                                "status settled s", "CPU ms/svc: controller",
                                "emulator"),
                 [(r["count"], r["status"], r["write_threads"], f"{r['total']:.1f}",
                   f"{r['count'] / r['total']:.0f}", f"{r['p50']:.0f}", f"{r['p99']:.0f}",
                   f"{r['rss']:.0f} ({r['peak']:.0f})", f"{r['floor_s']:.1f}",
                   f"{r['ratio']:.2f}", f"{r['rig_floor_s']:.1f}", f"{r['rig_ratio']:.2f}",
                   "-" if r["settled"] is None else f"{r['settled']:.1f}",
                   f"{r['controller_cpu_ms']:.2f}", f"{r['emulator_cpu_ms']:.2f}")
                  for r in rows],
                 raw=rows)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
