"""Many nodes: N real speaker processes against one API emulator with S Services, the API
load they put on it and the time until every node's plan is final.

Setup (not measured): one emulator process (`metallb lab apiserver`), the metallb.io
CRDs, the legacy config (one IPv6 peer, an IPv6 /64 pool), N Nodes, a real controller
process (its own ServiceAccount token) and S LoadBalancer Services with
`externalTrafficPolicy: Local`, each with one EndpointSlice whose ready endpoints sit on
K consecutive nodes (service i on nodes i .. i+K-1 mod N), created by the bench as the
admin; the bench waits until the controller has assigned every address.

Measured: N `python -m speaker` processes start at once, all with one ServiceAccount
token (a DaemonSet's pods share theirs) and `--bgp-backend none` (benchmarks only: the
speaker plans, writes its Events and status objects as usual, but hands its routes to a
recorder instead of ExaBGP; 100 ExaBGPs and their sessions would not fit 2 cores). A
node's plan is final when the speaker's own log says the backend holds exactly the
expected number of prefixes (`bgp_routes_held prefixes=E`, E = the Services with an
endpoint on that node, computed from the objects) and it never changes after. The
emulator counts every request per (user, verb, resource), the bytes it sent and the
watches open (GET /_emulator/requests): once before the speakers start, once when all
plans are final and the speakers' writes (Events, status objects, which follow the
routes) have stopped for QUIET seconds ("start"), and after `--steady` more seconds of
nothing changing ("steady").

Run: python3 bench/cluster.py [--speakers 100] [--services 10000] [--endpoints 3]
     [--steady 60] [--json]
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubernetes import client, config  # noqa: E402

from bench.memory import _metric, address, rss_mib  # noqa: E402
from bench.objects import create_service, create_slice, endpoint_slice, lb_service  # noqa: E402
from bench.report import Report, add_json_flag  # noqa: E402
from lab.apiserver import ApiServerProcess  # noqa: E402
from lab.apiserver.kubeconfig import kubeconfig_text  # noqa: E402
from lab.apiserver.rbac import Identity  # noqa: E402
from lab.harness.daemons import DaemonProcess  # noqa: E402
from metallb.component.render import crd_objects  # noqa: E402
from metallb.wait import poll_until  # noqa: E402

NAMESPACE = "metallb-system"
PEER = "2001:db8:ffff::1"  # never contacted: the backend speaks no BGP
CONFIG = (f"peers:\n- {{peer-address: '{PEER}', peer-asn: 64500, my-asn: 64501, "
          "router-id: 192.0.2.254}\n"
          "address-pools:\n- {name: bench, protocol: bgp, addresses: ['2001:db8:1::/64']}\n")
THREADS = 4
SPEAKER = Identity.service_account(NAMESPACE, "speaker").user
CONTROLLER = Identity.service_account(NAMESPACE, "controller").user
WRITES = ("create", "update", "patch", "delete")
QUIET = 10.0
"""Seconds without a speaker write after which the start is over."""
_HELD = re.compile(r"^ts=(\S+) .*event=bgp_routes_held .*prefixes=(\d+)")

# kube-apiserver defaults the extrapolation is measured against (see the README section
# "Many nodes" for the sources): --max-requests-inflight + --max-mutating-requests-inflight
# is the server's concurrency limit that APF divides among the priority levels in
# proportion to their nominal concurrency shares.
MAX_REQUESTS_INFLIGHT = 400
MAX_MUTATING_INFLIGHT = 200
APF_SHARES = {"system": 30, "node-high": 40, "leader-election": 10, "workload-high": 40,
              "workload-low": 100, "global-default": 20, "catch-all": 5}
SPEAKER_LEVEL = "workload-low"  # FlowSchema "service-accounts": any ServiceAccount's requests


def node_name(i: int) -> str:
    return f"node{i:04d}"


def endpoint_nodes(service: int, nodes: int, per_service: int) -> list[int]:
    """The nodes holding service `service`'s ready endpoints."""
    return [(service + j) % nodes for j in range(min(per_service, nodes))]


def expected_prefixes(services: int, nodes: int, per_service: int) -> list[int]:
    """Per node: the Local services with an endpoint there (each one /128 to the peer)."""
    counts = [0] * nodes
    for i in range(services):
        for node in endpoint_nodes(i, nodes, per_service):
            counts[node] += 1
    return counts


def apf_seats(level: str) -> int:
    """NominalCL(level) = ceil(ServerCL * NCS(level) / sum of NCS)."""
    server = MAX_REQUESTS_INFLIGHT + MAX_MUTATING_INFLIGHT
    return math.ceil(server * APF_SHARES[level] / sum(APF_SHARES.values()))


# -- setup -------------------------------------------------------------------------------

def prepare(api: client.ApiClient, nodes: int) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "metallb"},
                                                  "data": {"config": CONFIG}})
    ext = client.ApiextensionsV1Api(api)
    for crd in crd_objects():
        ext.create_custom_resource_definition(crd)
    for i in range(nodes):
        name = node_name(i)
        core.create_node({"metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name}}}, _preload_content=False).drain_conn()
        core.patch_node_status(name, {"status": {"addresses": [
            {"type": "InternalIP", "address": f"2001:db8:ffff::{i + 2:x}"}]}},
            _preload_content=False).drain_conn()


def populate(api: client.ApiClient, services: int, nodes: int, per_service: int) -> None:
    """S Local LoadBalancer Services and their EndpointSlices (no status: the controller
    assigns)."""
    core, discovery = client.CoreV1Api(api), client.DiscoveryV1Api(api)

    def one(i: int) -> None:
        name = f"svc-{i}"
        create_service(core, lb_service(name, etp="Local"))
        create_slice(discovery, endpoint_slice(name, [
            (address(i * 8 + j, "fd00::"), node_name(node))
            for j, node in enumerate(endpoint_nodes(i, nodes, per_service))]))

    with ThreadPoolExecutor(THREADS) as pool:
        for _ in pool.map(one, range(services)):
            pass


# -- measuring ---------------------------------------------------------------------------

Counts = dict[tuple[str, str, str], tuple[int, int, int]]
"""(user, verb, resource) -> (requests, bytes sent, watches open)."""


def counters(server: ApiServerProcess) -> Counts:
    return {(r["user"], r["verb"], r["resource"]): (r["requests"], r["bytes"],
                                                     r["open_watches"])
            for r in server.requests()["requests"]}


def difference(after: Counts, before: Counts, user: str | None = None) -> Counts:
    """Requests and bytes between two snapshots (watches open: as in `after`)."""
    out = {}
    for key, (req, sent, watching) in after.items():
        old = before.get(key, (0, 0, 0))
        if user is not None and key[0] != user:
            continue
        if req - old[0] or sent - old[1] or watching:
            out[key] = (req - old[0], sent - old[1], watching)
    return out


class HeldLog:
    """Follows one speaker's log: the (wall time, prefixes) of each `bgp_routes_held`.
    Used from the bench's one thread."""

    def __init__(self, path: Path):
        self.path = path
        self._offset = 0
        self._partial = ""
        self.held: list[tuple[float, int]] = []

    def read(self) -> None:
        with open(self.path, errors="replace") as f:
            f.seek(self._offset)
            text = self._partial + f.read()
            self._offset = f.tell()
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            found = _HELD.match(line)
            if found:
                when = datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
                self.held.append((when, int(found.group(2))))

    def final_at(self, expected: int) -> float | None:
        """When the held count last became `expected` (None while it is not)."""
        if not self.held or self.held[-1][1] != expected:
            return None
        at = self.held[-1][0]
        for when, count in reversed(self.held):
            if count != expected:
                break
            at = when
        return at


def run(speakers: int, services: int, per_service: int, workdir: Path, steady: float,
        timeout: float, progress: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """The whole measurement; returns every figure (the tables are built from it)."""
    kubeconfig = workdir / "kubeconfig"
    server = ApiServerProcess(kubeconfig, extra_args=("--history-limit", "200000")).start()
    controller: DaemonProcess | None = None
    procs: list[DaemonProcess] = []
    try:
        admin = config.new_client_from_config(config_file=str(kubeconfig))
        own_kubeconfig = {}
        for name in ("controller", "speaker"):
            own_kubeconfig[name] = workdir / f"kubeconfig-{name}"
            own_kubeconfig[name].write_text(kubeconfig_text(
                server.url, server.service_account_token(NAMESPACE, name)))
        began = time.monotonic()
        prepare(admin, speakers)
        controller = DaemonProcess("controller", [
            "--kubeconfig", str(own_kubeconfig["controller"])], workdir / "controller.log")
        populate(admin, services, speakers, per_service)
        populated = time.monotonic() - began
        progress(f"{services} services and slices on {speakers} nodes in {populated:.0f} s")
        port = controller.port
        poll_until(lambda: _metric(port, "metallb_allocator_addresses_in_use_total")
                   == services, timeout, interval=1.0, what=f"{services} addresses assigned")
        assigned = time.monotonic() - began
        progress(f"controller assigned all {services} in {assigned:.0f} s from the start")

        expected = expected_prefixes(services, speakers, per_service)
        before = counters(server)
        launched = time.time()
        for i in range(speakers):
            name = node_name(i)
            procs.append(DaemonProcess("speaker", [
                "--node-name", name, "--kubeconfig", str(own_kubeconfig["speaker"]),
                "--namespace", NAMESPACE, "--bgp-backend", "none",
                "--state-dir", str(workdir / f"state-{name}")],
                workdir / f"speaker-{name}.log"))
        logs = [HeldLog(p.log_path) for p in procs]

        def all_final() -> bool:
            for proc, log in zip(procs, logs, strict=True):
                if proc.proc.poll() is not None:
                    raise RuntimeError(f"{proc.log_path.name} exited: "
                                       f"{proc.log_text()[-2000:]}")
                log.read()
            return all(log.final_at(e) is not None for log, e in zip(logs, expected,
                                                                     strict=True))

        poll_until(all_final, timeout, interval=1.0, what="every node's plan final")
        all_final_s = time.time() - launched
        final_s = [log.final_at(e) - launched for log, e in zip(logs, expected, strict=True)]
        rss = [rss_mib(p.proc.pid) for p in procs]
        progress(f"all {speakers} plans final {all_final_s:.1f} s after launch")
        last = {"writes": -1, "at": time.time()}

        def writes_quiet() -> bool:
            writes = sum(v[0] for k, v in counters(server).items()
                         if k[0] == SPEAKER and k[1] in WRITES)
            if writes != last["writes"]:
                last.update(writes=writes, at=time.time())
            return time.time() - last["at"] >= QUIET

        poll_until(writes_quiet, timeout, interval=1.0, what="the speakers' writes done")
        at_final = counters(server)
        start_s = time.time() - launched
        settled_s = last["at"] - launched
        progress(f"the speakers' writes done {settled_s:.1f} s after launch")
        time.sleep(steady)  # the steady window: a measurement interval, not a wait
        at_end = counters(server)
        changed = [log.path.name for log, e in zip(logs, expected, strict=True)
                   if (log.read(), log.final_at(e))[1] is None]
        return {
            "speakers": speakers, "services": services, "endpoints_per_service": per_service,
            "expected_prefixes": {"min": min(expected), "max": max(expected),
                                  "total": sum(expected)},
            "setup_s": {"populated": populated, "assigned": assigned},
            "final_s": final_s, "all_final_s": all_final_s, "settled_s": settled_s,
            "start_s": start_s, "steady_s": steady,
            "not_final_after_steady": changed,
            "start": difference(at_final, before), "steady": difference(at_end, at_final),
            "rss_mib": [r[0] for r in rss], "peak_mib": [r[1] for r in rss],
        }
    finally:
        for proc in procs:
            proc.stop()
        if controller is not None:
            controller.stop()
        server.stop()


# -- report ------------------------------------------------------------------------------

def _sum(counts: Counts, user: str, index: int, verb: str | None = None) -> int:
    return sum(v[index] for k, v in counts.items()
               if k[0] == user and (verb is None or k[1] == verb))


def per_node(result: dict[str, Any]) -> dict[str, float]:
    """The speakers' figures divided by the number of speakers."""
    n, start, steady = result["speakers"], result["start"], result["steady"]
    window, quiet = result["start_s"], result["steady_s"] or math.inf  # no window: no rate
    return {
        "start_requests": _sum(start, SPEAKER, 0) / n,
        "start_lists": _sum(start, SPEAKER, 0, "list") / n,
        "start_writes": sum(_sum(start, SPEAKER, 0, v) for v in
                            ("create", "update", "patch", "delete")) / n,
        "start_mib": _sum(start, SPEAKER, 1) / n / 2**20,
        "start_rps": _sum(start, SPEAKER, 0) / n / window,
        "steady_rps": _sum(steady, SPEAKER, 0) / n / quiet,
        "steady_kib_s": _sum(steady, SPEAKER, 1) / n / quiet / 1024,
        "watches": _sum(steady, SPEAKER, 2) / n,
        "watch_requests_start": _sum(start, SPEAKER, 0, "watch") / n,
        "rss_mib": sum(result["rss_mib"]) / n,
    }


def report_result(report: Report, result: dict[str, Any]) -> None:
    n, final = result["speakers"], sorted(result["final_s"])
    exp = result["expected_prefixes"]
    report.table("setup", ("speakers", "mode", "services", "endpoints per service",
                           "expected prefixes per node", "filled s", "all assigned s"),
                 [(n, "real speaker processes, --bgp-backend none (no ExaBGP)",
                   result["services"], result["endpoints_per_service"],
                   f"{exp['min']}-{exp['max']}", f"{result['setup_s']['populated']:.0f}",
                   f"{result['setup_s']['assigned']:.0f}")])
    report.table("final", ("first node final s", "median s", "last node final s",
                           "speakers' writes done s", "plans changed during steady window"),
                 [(f"{final[0]:.1f}", f"{final[len(final) // 2]:.1f}", f"{final[-1]:.1f}",
                   f"{result['settled_s']:.1f}", len(result["not_final_after_steady"]))],
                 title="Seconds from launching the speakers")
    for phase, seconds in (("start", result["start_s"]), ("steady", result["steady_s"])):
        rows = []
        for (user, verb, resource), (req, sent, watching) in sorted(result[phase].items()):
            who = {SPEAKER: "speakers", CONTROLLER: "controller"}.get(user, user)
            rows.append((who, verb, resource, req, f"{req / seconds:.1f}",
                         f"{sent / 2**20:.2f}", watching))
        report.table(f"api_{phase}", ("client", "verb", "resource", "requests", "req/s",
                                      "MiB sent", "watches open at end"), rows,
                     title=f"API requests, {phase} ({seconds:.1f} s)")
    node = per_node(result)
    report.table("per_node", ("figure", "per speaker"), [
        ("requests during start (launch -> writes done)", f"{node['start_requests']:.0f}"),
        ("  of which list pages", f"{node['start_lists']:.0f}"),
        ("  of which writes (events, status objects)", f"{node['start_writes']:.0f}"),
        ("  of which watch requests", f"{node['watch_requests_start']:.0f}"),
        ("MiB sent to it during start", f"{node['start_mib']:.1f}"),
        ("req/s during start", f"{node['start_rps']:.2f}"),
        ("req/s at steady state", f"{node['steady_rps']:.3f}"),
        ("KiB/s sent at steady state", f"{node['steady_kib_s']:.2f}"),
        ("watches open", f"{node['watches']:.1f}"),
        ("RSS MiB (mean; max)", f"{node['rss_mib']:.0f}; {max(result['rss_mib']):.0f}"),
    ], raw=[node])
    seats = apf_seats(SPEAKER_LEVEL)
    big = 1000
    report.table("extrapolation", ("figure", f"{big} nodes"), [
        ("watches open (speakers)", f"{node['watches'] * big:.0f}"),
        ("requests of one cold start of every speaker",
         f"{node['start_requests'] * big:,.0f}"),
        ("  of which list pages", f"{node['start_lists'] * big:,.0f}"),
        ("  of which writes", f"{node['start_writes'] * big:,.0f}"),
        ("GiB the API server sends for it", f"{node['start_mib'] * big / 1024:.1f}"),
        ("req/s at steady state", f"{node['steady_rps'] * big:.1f}"),
        (f"APF: priority level {SPEAKER_LEVEL}, nominal seats (defaults)", seats),
        ("APF: server concurrency (max-requests-inflight + max-mutating)",
         MAX_REQUESTS_INFLIGHT + MAX_MUTATING_INFLIGHT),
    ], title=f"Extrapolated linearly from the per-speaker figures to {big} nodes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speakers", type=int, default=100)
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--endpoints", type=int, default=3,
                        help="nodes with a ready endpoint of each service (default: 3)")
    parser.add_argument("--steady", type=float, default=60.0,
                        help="seconds of the steady-state window after all plans are final")
    parser.add_argument("--timeout", type=float, default=3600.0)
    add_json_flag(parser)
    args = parser.parse_args()
    report = Report("cluster", args)
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        result = run(args.speakers, args.services, args.endpoints, Path(tmp), args.steady,
                     args.timeout, progress=lambda t: print(t, file=sys.stderr, flush=True))
    report_result(report, result)
    report.set("raw", {**result, "start": [[*k, *v] for k, v in result["start"].items()],
                       "steady": [[*k, *v] for k, v in result["steady"].items()]})
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
