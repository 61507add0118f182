"""Speaker end to end against real FRR, for the triggers users hit: from the trigger until
FRR (and the router's kernel) hold every one of N prefixes; beside it, round by round into
the same FRR, the same prefixes injected raw by ExaBGP as released, by ExaBGP as the
speaker runs it (speaker/exabgp/launcher/, the floor) and by GoBGP (gobgpd fed over gRPC,
bench/gobgp_raw.py; skipped if gobgpd is not installed); failover times; RSS.

    sudo python3 bench/speaker.py [--trigger pool-added,cold-start,exabgp-restart,session-reset]
                                  [--services 1000,10000] [--repeat 3] [--status on,off]
                                  [--family 6] [--logs DIR] [--json]
    sudo python3 bench/speaker.py --trigger one-more --services 1000,10000 --repeat 9

`--status on,off` runs the speaker of each round once with its status objects
(ConfigurationState, ServiceBGPStatus per service, BGPSessionState) written and once
without (rows "TRIGGER (status on|off)", the same baselines), to compare their cost.

Triggers (the speaker runs as its own process, at its default log level; the N services,
their endpoints and their statuses exist before the clock starts, as the controller would
have written them):

- pool-added: the speaker runs with sessions up and no pool for the services' addresses;
  the clock starts when the pool is added to the ConfigMap (every object already cached).
  Then "withdraw all": the clock starts at the first of the N EndpointSlice deletes (so it
  includes the API's N deletes) and stops when the router holds none.
- cold-start: the config holds the pool; the clock starts at the speaker's exec.
- exabgp-restart: the speaker announces all; ExaBGP gets kill -9, the clock starts at the
  kill (the speaker restarts ExaBGP and announces again).
- session-reset: the speaker announces all; the router clears the session
  (`vtysh -c 'clear bgp *'`), the clock starts at the command.
- one-more (not in the default set): one speaker process runs while the cluster grows to
  0, then each of the --services counts (every service announced, FRR holds them all);
  at each size, per round, the clock starts when one new Service is created and stops
  when FRR holds it (its status and EndpointSlice written right after, as the
  controller and the endpoint controller would: 3 API writes in the figure); it is then
  deleted (not timed). Ratio: each size's median over the median with 0 services, same
  run. With the incremental planner only the new service is planned and sent.
  When one-more runs beside other triggers, the triggers at its largest size run on
  its cluster (populating 100,000 services takes minutes).
- planner-one-more (in-process, no root, no FRR; sizes from --planner-sizes): the
  speaker's own share of one-more at sizes the emulator cannot hold in time, 100,000
  included: what the sync thread does for one new service before ExaBGP gets its
  command and after (the incremental planner's step, the route book applying its
  delta, the announced-services bookkeeping and the `metallb_speaker_announced`
  series), beside one full plan of the same size (what every change cost before).

Every contender is measured the same way (bench/measure.py): the router idle (FRR and the
kernel table empty) before each run, FRR and the kernel polled every 20 ms, "done" = FRR
counts N prefixes ("FRR holds all") and then the kernel has N BGP routes. Ratios are
paired: per round, the speaker's figure over the baselines' figures of the same round.
The /128s come from 2001:db8::/32: the IPv4 documentation ranges hold only 768 addresses.
Run from the repository root.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kubernetes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry

from bench.exabgp_raw import rss_mb, run_raw
from bench.gobgp_raw import compile_protos, gobgpd_version, run_gobgp
from bench.measure import (
    POLL_S,
    Finish,
    before_reset,
    until_router_holds,
    until_router_holds_again,
    wait_idle,
)
from bench.report import Report, add_json_flag, fmt_spread, paired_ratios
from lab.frr import RouterConfig
from lab.harness.bgplab import NODE_ASN, ROUTER_ASN
from lab.harness.speaker_cluster import SpeakerCluster, speaker_cluster
from metallb.component.render import crd_objects
from metallb.config.parse import parse_config
from metallb.metrics import SpeakerMetrics
from metallb.wait import poll_until
from speaker.announced import AnnouncedServices
from speaker.exabgp.routebook import RouteBook
from speaker.exabgp.supervisor import default_exabgp_cmd, stock_exabgp_cmd
from speaker.incremental import IncrementalPlanner
from speaker.node import NodeInfo
from speaker.planner import plan

POOL = "2001:db8:1::/104"  # 16M addresses: 100,000 services and the new ones of one-more
FIRST = int(ipaddress.IPv6Address("2001:db8:1::1"))
FAMILY = "ipv6"
HOLD_TIME = 30  # as the raw baselines' sessions: with 3 s, 100,000 routes on a loaded
# machine kept the session flapping (hold timer expired while the routes were processed)
TRIGGERS = ("pool-added", "cold-start", "exabgp-restart", "session-reset")
ONE_MORE = "one-more"
PLANNER_ONE_MORE = "planner-one-more"
EXTRA = 1 << 22  # address index of the new services of one-more, far above every populated one


def config(with_pool: bool) -> dict:
    pools = [{"name": "bench", "protocol": "bgp", "addresses": [POOL]}] if with_pool else []
    return {
        "peers": [{"peer-address": "2001:db8:ffff::1", "peer-asn": ROUTER_ASN,
                   "my-asn": NODE_ASN, "hold-time": f"{HOLD_TIME}s"}],
        "address-pools": pools,
    }


def address(i: int) -> str:
    return str(ipaddress.IPv6Address(FIRST + i))


def populate(cluster: SpeakerCluster, n: int, first: int = 0) -> None:
    """Services svc-`first` .. svc-`n - 1`, each with its status and EndpointSlice."""
    node = cluster.lab.nodes[0]

    def one(i: int) -> None:
        cluster.service(f"svc-{i}", [address(i)])
        cluster.endpoints(f"svc-{i}", [node])

    parallel(one, range(first, n))


def parallel(fn: Callable[[int], object], items: Iterable[int]) -> None:
    """API writes from 4 threads (the emulator serves them in parallel)."""
    with ThreadPoolExecutor(4) as pool:
        for _ in pool.map(fn, items):
            pass


class Clusters:
    """One bench cluster at a time, holding services svc-0 .. svc-`size - 1` (each with
    its status and EndpointSlice), grown as a run needs: one-more leaves its cluster at
    its largest size, and the triggers at that size run on it instead of populating
    another (at 100,000 services, minutes). A smaller size gets a new cluster."""

    def __init__(self) -> None:
        self._stack: contextlib.ExitStack | None = None
        self.cluster: SpeakerCluster | None = None
        self.size = 0
        self._crds = False

    def at(self, n: int, crds: bool = False) -> SpeakerCluster:
        """The cluster with `n` services (`crds`: the status kinds installed, so their
        objects are really written)."""
        if self.cluster is None or self.size > n:
            self.close()
            self._stack = contextlib.ExitStack()
            self.cluster = self._stack.enter_context(speaker_cluster(
                1, start_speakers=False,
                router=RouterConfig(hold_time=HOLD_TIME, keepalive=HOLD_TIME // 3)))
            self.size, self._crds = 0, False
        if crds and not self._crds:
            ext = kubernetes.client.ApiextensionsV1Api(self.cluster.api)
            for crd in crd_objects():
                ext.create_custom_resource_definition(crd)
            self._crds = True
        populate(self.cluster, n, first=self.size)
        self.size = n
        return self.cluster

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self.cluster, self.size = None, None, 0


def speaker_process(cluster: SpeakerCluster, node_index: int, workdir: Path,
                    tag: str, status: str = "on") -> subprocess.Popen[bytes]:
    """`python -m speaker` for one lab node, as users run it, at its default log level (its
    log in workdir)."""
    node = cluster.lab.nodes[node_index]
    kubeconfig = cluster.server.write_kubeconfig(workdir / "kubeconfig")
    with open(workdir / f"speaker-{tag}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "speaker", "--node-name", f"node{node_index}",
             "--kubeconfig", str(kubeconfig), "--namespace", "metallb-system",
             "--host", "127.0.0.1", "--port", "0",
             "--exabgp-netns", node.netns, "--state-dir", str(workdir / f"state-{tag}"),
             "--status", status],
            stdout=log, stderr=subprocess.STDOUT)


def withdraw_all(cluster: SpeakerCluster, n: int, timeout: float) -> Finish:
    """Delete every service's endpoints (4 threads); seconds from the first delete until
    the router holds no route; the endpoints are then created again (not timed)."""
    router = cluster.lab.router
    node = cluster.lab.nodes[0]
    start = time.monotonic()
    parallel(lambda i: cluster.discovery.delete_namespaced_endpoint_slice(
        f"svc-{i}-slice", "default"), range(n))
    finish = until_router_holds(router, 0, FAMILY, start, timeout)
    parallel(lambda i: cluster.endpoints(f"svc-{i}", [node]), range(n))
    return finish


def speaker_round(trigger: str, cluster: SpeakerCluster, n: int, workdir: Path,
                  tag: str, timeout: float, status: str = "on") -> dict[str, float | None]:
    """One speaker process, measured for `trigger` (see the module doc), then stopped
    (SIGTERM: it withdraws everything) and the router idle again."""
    router = cluster.lab.router
    wait_idle(router, FAMILY, timeout)
    cluster.set_config(config(with_pool=trigger != "pool-added"))
    start = time.monotonic()
    proc = speaker_process(cluster, 0, workdir, tag, status)
    figures: dict[str, float | None] = {}
    try:
        if trigger == "cold-start":
            finish = until_router_holds(router, n, FAMILY, start, timeout)
        elif trigger == "pool-added":
            poll_until(lambda: router.established(), 120, what="IPv6 session")
            start = time.monotonic()
            cluster.set_config(config(with_pool=True))
            finish = until_router_holds(router, n, FAMILY, start, timeout)
        else:
            until_router_holds(router, n, FAMILY, start, timeout)
            epoch = before_reset(router, FAMILY)
            exabgp = _exabgp_pid(workdir / f"state-{tag}")
            start = time.monotonic()
            if trigger == "exabgp-restart":
                os.kill(exabgp, signal.SIGKILL)
            else:
                router.vtysh("clear bgp *")
            finish = until_router_holds_again(router, n, FAMILY, epoch, start, timeout)
        figures["speaker_bgp"], figures["speaker_kernel"] = finish.bgp_s, finish.kernel_s
        figures["rss_speaker"] = rss_mb(proc.pid)
        figures["rss_exabgp"] = rss_mb(_exabgp_pid(workdir / f"state-{tag}"))
        if trigger == "pool-added":
            figures["withdraw"] = withdraw_all(cluster, n, timeout).bgp_s
    finally:
        proc.terminate()
        proc.wait(timeout)
    poll_until(lambda: not router.established(), timeout, what="speaker session closed")
    wait_idle(router, FAMILY, timeout)
    return figures


def baseline_round(cluster: SpeakerCluster, routes: list[str], workdir: Path,
                   api_dir: Path | None, timeout: float) -> dict[str, float | None]:
    """The same prefixes injected raw into the same FRR: ExaBGP as released and as the
    speaker runs it (both with the speaker's command form and group-updates on, so they
    differ only by the launcher), and GoBGP (if gobgpd is installed)."""
    topo, router = cluster.lab.topology, cluster.lab.router
    figures: dict[str, float | None] = {}
    for key, cmd in (("raw_stock", stock_exabgp_cmd()), ("raw_lean", default_exabgp_cmd())):
        result = run_raw(cmd, "4.2", "neighbor-batched", True, topo, router, routes,
                         Path(tempfile.mkdtemp(dir=workdir)), timeout)
        figures[key], figures[f"{key}_kernel"] = result.seconds, result.kernel_seconds
    if api_dir is not None:
        result = run_gobgp(topo, router, routes, Path(tempfile.mkdtemp(dir=workdir)),
                           timeout, api_dir=api_dir)
        figures["gobgp"], figures["gobgp_kernel"] = result.seconds, result.kernel_seconds
    return figures


def row_name(trigger: str, status: str, statuses: list[str]) -> str:
    return trigger if statuses == ["on"] else f"{trigger} (status {status})"


def measure_triggers(triggers: list[str], n: int, workdir: Path, repeat: int,
                     timeout: float, clusters: Clusters, statuses: list[str] | None = None,
                     ) -> dict[str, list[dict[str, float | None]]]:
    """Per trigger, `repeat` rounds: the speaker for that trigger (once per status
    setting, the settings' order reversed every other round, so neither always runs
    first), then the baselines. Triggers alternate round by round, so machine load hits
    all of them alike."""
    statuses = statuses or ["on"]
    rounds: dict[str, list[dict[str, float | None]]] = {
        row_name(t, s, statuses): [] for t in triggers for s in statuses}
    cluster = clusters.at(n, crds="on" in statuses)
    routes = [f"{address(i)}/128" for i in range(n)]
    api_dir = compile_protos(gobgpd_version()) if shutil.which("gobgpd") else None
    for r in range(repeat):
        for trigger in triggers:
            order = statuses if r % 2 == 0 else statuses[::-1]
            measured = {s: speaker_round(trigger, cluster, n, workdir,
                                         f"{trigger}-{s}-{r}", timeout, s)
                        for s in order}
            baselines = baseline_round(cluster, routes, workdir, api_dir, timeout)
            for status, figures in measured.items():
                figures |= baselines
                name = row_name(trigger, status, statuses)
                print(f"# {n} {name} round {r}: " + ", ".join(
                    f"{k} {v:.3f}" for k, v in figures.items() if v is not None),
                    flush=True)
                rounds[name].append(figures)
    return rounds


def measure_one_more(counts: list[int], workdir: Path, repeat: int,
                     timeout: float, clusters: Clusters) -> dict[int, list[float]]:
    """Per cluster size (0 first, growing), `repeat` times: seconds from creating one new
    service (then its status and EndpointSlice) until FRR holds its route."""
    seconds: dict[int, list[float]] = {}
    cluster = clusters.at(0)
    cluster.set_config(config(with_pool=True))
    router, node = cluster.lab.router, cluster.lab.nodes[0]
    proc = speaker_process(cluster, 0, workdir, ONE_MORE)
    try:
        poll_until(lambda: router.established(), 120, what="IPv6 session")
        for n in sorted({0, *counts}):
            clusters.at(n)
            until_router_holds(router, n, FAMILY, time.monotonic(), timeout)
            seconds[n] = []
            for r in range(repeat):
                name = f"extra-{r}"
                start = time.monotonic()
                cluster.service(name, [address(EXTRA + r)])
                cluster.endpoints(name, [node])
                finish = until_router_holds(router, n + 1, FAMILY, start, timeout)
                seconds[n].append(finish.bgp_s if finish.bgp_s is not None
                                  else float("nan"))
                cluster.delete_service(name)
                until_router_holds(router, n, FAMILY, time.monotonic(), timeout)
                print(f"# one-more {n} round {r}: {seconds[n][-1]:.3f}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout)
    return seconds


def measure_planner_one_more(sizes: list[int], repeat: int) -> dict[int, dict[str, list[float]]]:
    """Per size, seconds of `repeat` single-service increments (plan step, route book,
    announced services, metric series) and of up to 3 full plans, in this process (see
    the module doc)."""
    cfg = parse_config({"peers": config(with_pool=True)["peers"], "address-pools": [
        {"name": "bench", "protocol": "bgp", "addresses": ["2001:db8:1::/104"]}]})
    node, peer = NodeInfo("node0"), "2001:db8:ffff::1"
    base = int(ipaddress.ip_address("2001:db8:1::1"))
    out: dict[int, dict[str, list[float]]] = {}
    for n in sorted({0, *sizes}):
        services = {f"default/svc-{i}": _service_object(f"svc-{i}", base + i)
                    for i in range(n + repeat)}
        slices = {f"default/svc-{i}-slice": _slice_object(f"svc-{i}") for i in range(n + repeat)}
        extra = [f"default/svc-{i}" for i in range(n, n + repeat)]
        seen = {k: services[k] for k in list(services)[:n]}
        seen_slices = {f"{k}-slice": slices[f"{k}-slice"] for k in seen}
        full_s = []
        for _ in range(min(repeat, 3)):
            start = time.perf_counter()
            plan(cfg, node, seen.values(), seen_slices.values())
            full_s.append(time.perf_counter() - start)
        planner = IncrementalPlanner()
        book, announced = RouteBook(), AnnouncedServices()
        metrics = SpeakerMetrics(CollectorRegistry())
        result = planner.full(cfg, node, seen.values(), seen_slices.values())
        book.set_desired({p: dict(t) for p, t in result.routes.items()}, [peer])
        first = announced.replace(result.announced)
        metrics.change([(k, "bgp", node.name, ip) for k, ip in first.added], [])
        planner.index()
        one_s = []
        for key in extra:
            seen[key], seen_slices[f"{key}-slice"] = services[key], slices[f"{key}-slice"]
            start = time.perf_counter()
            delta = planner.step([key], seen.get, [f"{key}-slice"], seen_slices.get)
            book.change_desired(delta.routes, [peer])
            change = announced.change(delta.added, delta.removed)
            metrics.change(((k, "bgp", node.name, ip) for k, ip in change.added),
                           ((k, "bgp", node.name, ip) for k, ip in change.removed))
            one_s.append(time.perf_counter() - start)
        out[n] = {"one_more": one_s, "full_plan": full_s}
        print(f"# planner-one-more {n}: one {statistics.median(one_s) * 1000:.2f} ms, "
              f"full plan {statistics.median(full_s) * 1000:.1f} ms", flush=True)
    return out


def _service_object(name: str, ip: int) -> dict:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster"},
            "status": {"loadBalancer": {"ingress": [{"ip": str(ipaddress.ip_address(ip))}]}}}


def _slice_object(service: str) -> dict:
    return {"metadata": {"name": f"{service}-slice", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": ["10.244.0.10"], "nodeName": "node0",
                           "conditions": {"ready": True}}]}


def planner_rows(figures: dict[int, dict[str, list[float]]]) -> list[tuple]:
    base = statistics.median(figures[0]["one_more"])
    return [(f"{n:,}", fmt_spread([t * 1000 for t in f["one_more"]], " ms", 2),
             f"{statistics.median(f['one_more']) / base:.2f}x",
             fmt_spread([t * 1000 for t in f["full_plan"]], " ms", 1))
            for n, f in figures.items()]


def one_more_rows(seconds: dict[int, list[float]]) -> list[tuple]:
    """One row per size: the spread, and the median over the median with 0 services."""
    base = statistics.median(seconds[0])
    return [(f"{n:,}", fmt_spread([t * 1000 for t in times], " ms", 0),
             f"{statistics.median(times) / base:.2f}x") for n, times in seconds.items()]


def column(rounds: list[dict[str, float | None]], key: str) -> list[float]:
    return [v if (v := r.get(key)) is not None else float("nan") for r in rounds]


def trigger_row(trigger: str, n: int, rounds: list[dict[str, float | None]]) -> tuple:
    """One row of the speaker table: spreads of each contender, paired ratios."""
    speaker = column(rounds, "speaker_bgp")
    by_gobgp = fmt_spread(paired_ratios(speaker, column(rounds, "gobgp")), "x")
    by_floor = fmt_spread(paired_ratios(speaker, column(rounds, "raw_lean")), "x")
    return (trigger, f"{n:,}", fmt_spread(speaker), fmt_spread(column(rounds, "speaker_kernel")),
            fmt_spread(column(rounds, "withdraw")) if trigger.startswith("pool-added")
            else "-",
            fmt_spread(column(rounds, "raw_stock")), fmt_spread(column(rounds, "raw_lean")),
            fmt_spread(column(rounds, "gobgp")), by_floor, by_gobgp,
            f"{max(column(rounds, 'rss_speaker')):.0f}",
            f"{max(column(rounds, 'rss_exabgp')):.0f}")


def status_cost_rows(triggers: list[str], n: int,
                     measured: dict[str, list[dict[str, float | None]]]) -> list[tuple]:
    """Per trigger, the paired per-round ratio status on / status off (same round, so the
    same machine load) of both finish lines."""
    rows = []
    for t in triggers:
        on, off = (measured[row_name(t, s, ["on", "off"])] for s in ("on", "off"))
        rows.append((t, f"{n:,}", len(on),
                     *(fmt_spread(paired_ratios(column(on, key), column(off, key)), "x")
                       for key in ("speaker_bgp", "speaker_kernel"))))
    return rows


STATUS_COST_HEADER = ("trigger", "services", "rounds", "status on / off: FRR holds all",
                      "status on / off: + kernel")


SPEAKER_HEADER = ("trigger", "services", "speaker: FRR holds all", "+ kernel",
                  "withdraw all", "raw ExaBGP as released", "raw ExaBGP as the speaker runs "
                  "it (floor)", "raw GoBGP", "speaker / floor (paired)",
                  "speaker / GoBGP (paired)", "speaker RSS MiB", "ExaBGP RSS MiB")


def measure_failover(workdir: Path, rounds: int) -> dict[str, list[float]]:
    """A speaker process per round; time from the fault to the router's kernel dropping
    that node's next hop (two other nodes keep the route)."""
    results: dict[str, list[float]] = {"SIGTERM": [], "kill -9": [], "frozen (hold 3 s)": []}
    with speaker_cluster(3, start_speakers=False) as cluster:
        cluster.set_config({
            "peers": [{"peer-address": "192.0.2.1", "peer-asn": ROUTER_ASN,
                       "my-asn": NODE_ASN, "hold-time": "3s"}],
            "address-pools": [{"name": "p", "protocol": "bgp",
                               "addresses": ["198.51.100.0/24"]}],
        })
        nodes = cluster.lab.nodes
        cluster.service("web", ["198.51.100.1"])
        cluster.endpoints("web", list(nodes))
        for node in nodes[1:]:
            cluster.start_speaker(node)
        prefix = "198.51.100.1/32"
        for fault in results:
            for r in range(rounds):
                tag = f"{fault.split()[0]}-{r}"
                proc = speaker_process(cluster, 0, workdir, tag)
                exabgp = None
                try:
                    poll_until(lambda: len(cluster.lab.nexthops(prefix)) == 3, 60,
                               what="three next hops")
                    exabgp = _exabgp_pid(workdir / f"state-{tag}")
                    start = time.monotonic()
                    if fault == "SIGTERM":
                        os.kill(proc.pid, signal.SIGTERM)
                    elif fault == "kill -9":
                        os.kill(proc.pid, signal.SIGKILL)
                    else:
                        os.kill(exabgp, signal.SIGSTOP)
                    poll_until(lambda: len(cluster.lab.nexthops(prefix)) == 2, 60,
                               interval=0.002, max_interval=0.005, what="next hop dropped")
                    results[fault].append(time.monotonic() - start)
                finally:
                    for pid in (exabgp, proc.pid):
                        if pid is not None:
                            _kill(pid)
                    proc.wait()
                    poll_until(lambda: nodes[0].ipv4 not in cluster.lab.router.established(),
                               30, what="node0 session gone")
    return results


def _exabgp_pid(state_dir: Path) -> int:
    def find() -> int | None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(str(state_dir / "exabgp.conf").encode() == part for part in cmd):
                return int(entry.name)
        return None

    return poll_until(find, 30, what="ExaBGP pid")


def _kill(pid: int) -> None:
    for sig in (signal.SIGCONT, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trigger", default=",".join(TRIGGERS),
                        help=f"comma-separated, any of {', '.join(TRIGGERS)} (default: "
                             f"these), or {ONE_MORE}, {PLANNER_ONE_MORE}")
    parser.add_argument("--services", default="1000,10000")
    parser.add_argument("--family", type=int, choices=(6,), default=6,
                        help="address family of the /128s (IPv6 only: the IPv4 documentation "
                        "ranges hold 768 addresses)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds per trigger and size (each with its baselines)")
    parser.add_argument("--failover-rounds", type=int, default=3, help="0: no failover table")
    parser.add_argument("--planner-sizes", default="0,1000,10000,100000",
                        help=f"services already planned, for {PLANNER_ONE_MORE}")
    parser.add_argument("--status", default="on",
                        help="comma-separated: the speaker's --status per round, on and/or "
                        "off (default: on)")
    parser.add_argument("--logs", type=Path, default=None,
                        help="copy every speaker process's log into this directory")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for one finish line")
    add_json_flag(parser)
    args = parser.parse_args()
    triggers = args.trigger.split(",")
    if unknown := set(triggers) - {*TRIGGERS, ONE_MORE, PLANNER_ONE_MORE}:
        parser.error(f"unknown triggers {sorted(unknown)}")
    statuses = [s for s in args.status.split(",") if s]
    if not statuses or set(statuses) - {"on", "off"}:
        parser.error("--status takes on, off or on,off")
    report = Report("speaker", args)
    if PLANNER_ONE_MORE in triggers:
        triggers.remove(PLANNER_ONE_MORE)
        figures = measure_planner_one_more(
            [int(x) for x in args.planner_sizes.split(",")], args.repeat)
        report.table(PLANNER_ONE_MORE, (
            "services already planned", "one new service: plan step, route book, announced, metric "
            "(min / median / max)", "median / median at 0", "full plan (min / median / max)"),
            planner_rows(figures), title=f"in-process, {args.repeat} new services per size")
        report.set("planner_one_more_s", figures)
        if not triggers and not args.failover_rounds:
            report.finish()
            return 0
    if os.geteuid() != 0:
        print("bench/speaker.py needs root (network namespaces, FRR)", file=sys.stderr)
        return 2
    counts = [int(x) for x in args.services.split(",")]
    rows, raw, cost_rows = [], {}, []
    one_more = ONE_MORE in triggers
    triggers = [t for t in triggers if t != ONE_MORE]
    clusters = Clusters()
    with tempfile.TemporaryDirectory(prefix="bench-speaker-") as tmp, \
            contextlib.closing(clusters):
        Path(tmp).chmod(0o711)
        if one_more:
            work = Path(tmp) / ONE_MORE
            work.mkdir()
            seconds = measure_one_more(counts, work, args.repeat, args.timeout, clusters)
            report.table(ONE_MORE, ("services already announced",
                                    "one new service: create -> FRR holds it (min / median / "
                                    "max)", "median / median at 0"),
                         one_more_rows(seconds),
                         title=f"{args.repeat} rounds per size, one speaker process, sizes "
                               f"in growing order; FRR polled every {POLL_S * 1000:.0f} ms")
            report.set("one_more_s", seconds)
        for n in counts if triggers else ():
            work = Path(tmp) / f"n{n}"
            work.mkdir()
            measured = measure_triggers(triggers, n, work, args.repeat, args.timeout,
                                        clusters, statuses)
            raw[n] = measured
            rows += [trigger_row(t, n, measured[t]) for t in measured]
            if sorted(statuses) == ["off", "on"]:
                cost_rows += status_cost_rows(triggers, n, measured)
        if triggers:
            report.table("speaker", SPEAKER_HEADER, rows,
                         title=f"min / median / max of {args.repeat} interleaved rounds; GoBGP "
                               "= gobgpd fed by AddPathStream (bench/gobgp_raw.py); the router "
                               f"polled every {POLL_S * 1000:.0f} ms")
            report.set("rounds", raw)
        if cost_rows:
            report.table("status_cost", STATUS_COST_HEADER, cost_rows,
                         title="status cost: per round, the speaker with status writing on "
                               "over off (order alternating round by round); min / median / "
                               "max over the rounds")
        if args.failover_rounds:
            work = Path(tmp) / "failover"
            work.mkdir()
            failover = measure_failover(work, args.failover_rounds)
            report.table("failover", ("fault on one of three nodes",
                                      "next hop dropped at the router: min / median / max"),
                         [(fault, fmt_spread([t * 1000 for t in times], " ms", 0))
                          for fault, times in failover.items()])
            report.set("failover_s", failover)
        if args.logs is not None:
            args.logs.mkdir(parents=True, exist_ok=True)
            for log in Path(tmp).glob("*/speaker-*.log"):
                shutil.copy(log, args.logs / f"{log.parent.name}-{log.name}")
    report.finish()
    return 0

if __name__ == "__main__":
    sys.exit(main())
