"""Memory of the daemons with N Services and their EndpointSlices cached: the RSS of a real
controller and a real speaker process once each has taken in every object.

For each N one API emulator is filled with N IPv6 LoadBalancer Services (status written
with its AddressAssigned condition, the pool annotation set, as a controller leaves
them: a controller started on them has nothing to write) and one EndpointSlice each, ready
on the speaker's node. Then, for each checkout given with --repos (default: this one),
alternating round by round so that load on the machine hits them alike:

  controller   `python -m controller` until its metric counts N addresses in use
               (every Service read, nothing left to write)
  speaker      `python -m speaker` (ExaBGP started, its peer unreachable) until it logs
               that it announces the N services

and reports VmRSS at that moment and VmHWM (the peak, in brackets), the seconds
from exec until then, and the seconds from SIGTERM until the process was gone with its
exit code (-9: it was still there after 15 s and was killed), and the seconds per step of
that stop as the daemon's closing log line gives them (the speaker's: sync, bfd,
withdraw, events, status, informers; "-" when it logs none). The daemons run from
the checkout (cwd and PYTHONPATH), at their default log level. No root, no FRR.

Run: python3 bench/memory.py [--services 10000,100000] [--repos .,/tmp/base] [--rounds 2]
(filling the emulator costs ~4 s per 1,000 services on 2 loaded cores)
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubernetes import client, config  # noqa: E402

from bench.objects import create_service, create_slice, endpoint_slice, lb_service  # noqa: E402
from bench.report import Report, add_json_flag  # noqa: E402
from lab.apiserver import ApiServerProcess  # noqa: E402
from lab.harness.http import daemon_ready  # noqa: E402
from lab.ports import DAEMON_METRICS, logged_address, port_of  # noqa: E402
from metallb import childproc  # noqa: E402
from metallb.allocator.reasons import ASSIGNED  # noqa: E402
from metallb.logs import parse_event  # noqa: E402
from metallb.status.conditions import ADDRESS_ASSIGNED, TRUE, Condition  # noqa: E402
from metallb.wait import poll_until  # noqa: E402

POOL = "2001:db8:1::/64"
PEER = "2001:db8:ffff::1"  # never answers: the speaker plans and queues, nothing is sent
NODE = "node0"
ASSIGNED_AT = "2026-11-30T00:00:00Z"
CONFIG = (f"peers:\n- {{peer-address: '{PEER}', peer-asn: 64500, my-asn: 64501}}\n"
          f"address-pools:\n- {{name: bench, protocol: bgp, addresses: ['{POOL}']}}\n")
THREADS = 4
def address(i: int, base: str = "2001:db8:1::") -> str:
    return str(ipaddress.ip_address(base) + i + 1)


def populate(core: client.CoreV1Api, discovery: client.DiscoveryV1Api, n: int) -> None:
    """N Services as the controller leaves them, one ready endpoint each on NODE."""
    def one(i: int) -> None:
        name = f"svc-{i}"
        create_service(core, lb_service(
            name, annotations={"metallb.io/ip-allocated-from-pool": "bench"}))
        assigned = Condition(ADDRESS_ASSIGNED, TRUE, ASSIGNED,
                             f"{address(i)} from pool 'bench'").as_dict(ASSIGNED_AT)
        core.patch_namespaced_service_status(name, "default", {"status": {
            "loadBalancer": {"ingress": [{"ip": address(i)}]}, "conditions": [assigned]}},
            _preload_content=False).drain_conn()
        create_slice(discovery, endpoint_slice(name, [(address(i, "fd00::"), NODE)]))

    with ThreadPoolExecutor(THREADS) as pool:
        for _ in pool.map(one, range(n)):
            pass


def prepare(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "metallb-system"}})
    core.create_namespaced_config_map("metallb-system", {
        "metadata": {"name": "metallb"}, "data": {"config": CONFIG}})
    core.create_node({"metadata": {"name": NODE}})
    core.patch_node_status(NODE, {"status": {"addresses": [
        {"type": "InternalIP", "address": "2001:db8:ffff::2"}]}})


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of `pid` in MiB."""
    fields = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def _metric(port: int, name: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
    return None


def run_daemon(repo: Path, daemon: str, n: int, kubeconfig: Path, workdir: Path,
               timeout: float) -> dict:
    """One daemon from `repo` until it has taken in all N objects; its RSS then."""
    log_path = workdir / f"{daemon}-{n}-{time.monotonic_ns()}.log"
    args = ["--kubeconfig", str(kubeconfig), "--host", "127.0.0.1", "--port", "0"]
    if daemon == "controller":  # a Lease of its own: never wait for the previous run's
        args += ["--lease-name", f"bench-{time.monotonic_ns()}"]
    else:
        args += ["--node-name", NODE, "--namespace", "metallb-system",
                 "--state-dir", str(workdir / f"state-{time.monotonic_ns()}")]
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", daemon, *args], cwd=repo,
                                stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(repo)})
    try:
        def port() -> int | None:
            if proc.poll() is not None:
                raise RuntimeError(f"{daemon} exited: {log_path.read_text()[-2000:]}")
            address = logged_address(log_path, DAEMON_METRICS)
            return port_of(address) if address else None

        bound = poll_until(port, timeout, what=f"{daemon} to listen")
        poll_until(lambda: daemon_ready(bound), timeout, what=f"{daemon} ready")
        if daemon == "controller":
            poll_until(lambda: _metric(bound, "metallb_allocator_addresses_in_use_total")
                       == n, timeout, interval=0.5, what=f"controller counts {n} in use")
        else:
            announced = re.compile(rf"event=service_announced services={n}\b")
            poll_until(lambda: announced.search(log_path.read_text(errors="replace")),
                       timeout, interval=0.5, what=f"speaker announces {n}")
        seconds = time.monotonic() - start
        rss, peak = rss_mib(proc.pid)
    finally:
        stopping = time.monotonic()
        code = childproc.terminate(proc, 15, kill_timeout=10)
    # how long SIGTERM took to end it (a daemon that needs more than 15 s is killed)
    return {"daemon": daemon, "services": n, "repo": str(repo), "rss": rss,
            "peak": peak, "seconds": seconds, "stop_s": time.monotonic() - stopping,
            "exit_code": code, "stop_steps": stop_steps(log_path, daemon)}


def stop_steps(log_path: Path, daemon: str) -> dict[str, float]:
    """Seconds per shutdown step from the daemon's closing line (`<name>_s=` fields, as
    `metallb.logs.StepTimes` writes them; {} when the daemon logs none)."""
    marker = f"event={daemon}_stopped"
    lines = [line for line in log_path.read_text(errors="replace").splitlines()
             if marker in line]
    if not lines:
        return {}
    fields = parse_event(lines[-1])
    return {k[:-2]: float(v) for k, v in fields.items()
            if k.endswith("_s") and k != "total_s"}


def _steps_text(steps: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in steps.items()) or "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", default="10000",
                        help="comma-separated service counts (default: 10000)")
    parser.add_argument("--repos", default=str(ROOT),
                        help="comma-separated checkouts whose daemons are measured, "
                        "alternating (default: this one)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0)
    add_json_flag(parser)
    args = parser.parse_args()
    report = Report("memory", args)
    repos = [Path(r).resolve() for r in args.repos.split(",") if r.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        workdir = Path(tmp)
        for n in (int(s) for s in args.services.split(",") if s.strip()):
            kubeconfig = workdir / f"kubeconfig-{n}"
            server = ApiServerProcess(kubeconfig).start(timeout=300)  # a loaded machine
            try:
                api = config.new_client_from_config(config_file=str(kubeconfig))
                prepare(client.CoreV1Api(api))
                began = time.monotonic()
                populate(client.CoreV1Api(api), client.DiscoveryV1Api(api), n)
                print(f"filled the emulator with {n} services in "
                      f"{time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
                for _round in range(args.rounds):
                    for repo in repos:
                        for daemon in ("controller", "speaker"):
                            row = run_daemon(repo, daemon, n, kubeconfig, workdir,
                                             args.timeout)
                            print(f"{daemon} {repo.name} {n}: {row['rss']:.0f} MiB",
                                  file=sys.stderr, flush=True)
                            rows.append(row)
            finally:
                server.stop()
    report.table("memory", ("daemon", "checkout", "services", "RSS MiB (peak)",
                            "s until all taken in", "SIGTERM -> exit s (code)",
                            "stop steps s"),
                 [(r["daemon"], Path(r["repo"]).name, r["services"],
                   f"{r['rss']:.0f} ({r['peak']:.0f})", f"{r['seconds']:.1f}",
                   f"{r['stop_s']:.1f} ({r['exit_code']})", _steps_text(r["stop_steps"]))
                  for r in rows], raw=rows)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
