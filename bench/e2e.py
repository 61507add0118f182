"""End to end on the lab: Service created -> its /32 in the router's kernel table with a
next hop per node; and failover: a speaker SIGTERMed, killed (-9), or its node's link
set down -> that next hop gone from the router's kernel table.

    sudo python3 bench/e2e.py [--nodes 3] [--batches 1,100,500] [--repeat 3] [--rounds 3]
                              [--router frr,bird,gobgp]

Everything is real: the router (FRR, BIRD 2 or GoBGP; each of --router in turn, one
table) in a router namespace, the controller and one speaker per node
as processes, ExaBGP in the node namespaces, the API emulator. Each service gets an
EndpointSlice ready on every node. The baseline, measured in the same run, is create ->
`status.loadBalancer` written (API + controller alone, seen through a watch); the ratio
says what announcing through the speakers, BGP and zebra costs on top, paired: per round,
that round's median over its own baseline median. `--repeat` rounds each create every batch
size in turn, so load on the shared machine hits all alike; the table shows min / median /
max over the rounds.

Batch sizes stop at 500: IPv4 service addresses must come from the documentation ranges,
and 192.0.2.0/24 is the lab's link, which leaves 198.51.100.0/24 + 203.0.113.0/24 = 512
addresses; 1000 services do not fit.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import Report, add_json_flag, fmt_spread, paired_ratios
from lab.cluster import UpOptions, restart_speaker, teardown, up
from lab.errors import LabError
from lab.harness.status_watch import StatusWatch
from lab.netns import ip
from lab.running import RunningLab
from lab.state import load
from metallb.wait import poll_until

BENCH_CONFIG = """\
component "metallb" {
  address_pools = {
    bench = ["198.51.100.0/24", "203.0.113.0/24"]
  }
}
"""
MAX_SERVICES = 512
NAMESPACE = "default"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_batch(lab: RunningLab, watcher: StatusWatch, count: int, tag: str,
                  timeout: float) -> tuple[list[float], list[float]]:
    """Create `count` services back to back; per service: create -> status, and
    create -> kernel route with every node as next hop. Then delete them all."""
    nodes = lab.node_addresses
    names = [f"{tag}-{i}" for i in range(count)]
    created: dict[str, float] = {}
    complete: dict[str, float] = {}
    for name in names:
        created[name] = time.monotonic()
        lab.create_service(name)

    def all_routed() -> bool:
        now = time.monotonic()
        for dst, hops in lab.kernel_routes().items():
            if hops == nodes and dst not in complete:
                complete[dst] = now
        return all(n in watcher.seen and watcher.seen[n][1] in complete for n in names)

    try:
        poll_until(all_routed, timeout, interval=0.002, max_interval=0.01,
                   what=f"{count} routes with {len(nodes)} next hops")
    finally:
        for name in names:
            lab.delete_service(name)
        poll_until(lambda: not lab.kernel_routes(), timeout, what="routes withdrawn")
    status = [watcher.seen[n][0] - created[n] for n in names]
    routed = [complete[watcher.seen[n][1]] - created[n] for n in names]
    return status, routed


def installed(lab: RunningLab, address: str) -> list[str]:
    """The router's next hops for `address`: its kernel table's (GoBGP: its RIB's)."""
    return list(lab.kernel_routes().get(address, []))


def measure_failover(lab: RunningLab, how: str, node_index: int, timeout: float) -> float:
    """Seconds from the action to the router's kernel dropping that node's next hop;
    then the node is brought back and its next hop awaited again."""
    node = lab.state.nodes[node_index]
    address = lab.service_addresses("failover")[0]
    nodes = lab.node_addresses
    poll_until(lambda: installed(lab, address) == nodes, timeout,
               what=f"{address} via every node before the failover")
    state = load(lab.state.state_dir)
    assert state is not None
    speaker = state.process(f"speaker-{node.name}")
    assert speaker is not None
    start = time.monotonic()
    if how == "SIGTERM":
        os.kill(speaker.pid, signal.SIGTERM)
    elif how == "kill -9":
        os.kill(speaker.pid, signal.SIGKILL)
    else:
        ip("-n", node.namespace, "link", "set", "eth0", "down")
    poll_until(lambda: node.address not in installed(lab, address), timeout,
               interval=0.001, max_interval=0.005, what=f"{node.address} dropped")
    elapsed = time.monotonic() - start
    if how == "link down":
        ip("-n", node.namespace, "link", "set", "eth0", "up")
    else:
        restart_speaker(lab.state.state_dir, node.name)
    poll_until(lambda: installed(lab, address) == nodes, 60,
               what=f"{node.address} back as a next hop of {address}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--batches", default="1,100,500",
                        help="service counts created at once (default: %(default)s)")
    parser.add_argument("--singles", type=int, default=20,
                        help="repetitions of the 1-service case (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of the create batches, each round every batch size in "
                        "turn (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="failovers of each kind (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--router", default="frr",
                        help="comma-separated router kinds to measure in turn: frr, bird, "
                        "gobgp (default: %(default)s)")
    add_json_flag(parser)
    args = parser.parse_args()
    report = Report("e2e", args)
    batches = [int(b) for b in args.batches.split(",") if b]
    if any(not 1 <= b <= MAX_SERVICES for b in batches):
        print(f"--batches: each between 1 and {MAX_SERVICES} (the documentation ranges hold "
              f"{MAX_SERVICES} service addresses)", file=sys.stderr)
        return 2

    results = []
    for router in [r for r in args.router.split(",") if r]:
        try:
            results.append((router, *measure_router(args, batches, router)))
        except LabError as err:
            print(f"bench/e2e.py: {err}", file=sys.stderr)
            return 1
    print_results(report, args.nodes, results)
    report.finish()
    return 0


# per batch: label, count, and per round the per-service seconds (create -> status,
# create -> route)
Rows = list[tuple[str, int, list[list[float]], list[list[float]]]]


def measure_router(args: argparse.Namespace, batches: list[int],
                   router: str) -> tuple[Rows, dict[str, list[float]]]:
    """One lab with `router` upstream: the create batches, then the failovers."""
    workdir = Path(tempfile.mkdtemp(prefix="mle"))
    workdir.chmod(0o711)
    config = workdir / "bench.lokocfg"
    config.write_text(BENCH_CONFIG)
    options = UpOptions(nodes=args.nodes, config=str(config), state_dir=str(workdir / "lab"),
                        prefix=f"mle{os.getpid()}", timeout=60, router=router)
    print(f"router {router}:", file=sys.stderr)
    try:
        state = up(options, progress=lambda line: print(f"  {line}", file=sys.stderr))
    except LabError:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
        raise
    rows: Rows = []
    failovers: dict[str, list[float]] = {}
    try:
        with RunningLab(state) as lab:
            watcher = StatusWatch(lab.core, NAMESPACE, clock=time.monotonic).start()
            try:
                rounds: dict[int, tuple[list[list[float]], list[list[float]]]] = {
                    count: ([], []) for count in batches}
                for rnd in range(args.repeat):
                    for count in batches:
                        print(f"round {rnd}: measuring {count} service(s)...",
                              file=sys.stderr)
                        status, routed = [], []
                        for rep in range(args.singles if count == 1 else 1):
                            s, r = measure_batch(lab, watcher, count, f"r{rnd}b{count}x{rep}",
                                                 args.timeout)
                            status += s
                            routed += r
                        rounds[count][0].append(status)
                        rounds[count][1].append(routed)
                rows += [(f"1 (x{args.singles}, one at a time)" if count == 1
                          else f"{count} at once", count, status, routed)
                         for count, (status, routed) in rounds.items()]
                lab.create_service("failover")
                poll_until(lambda: lab.service_addresses("failover"), args.timeout,
                           what="an address for the failover service")
                for how in ("SIGTERM", "kill -9", "link down"):
                    print(f"failover: {how} x{args.rounds}...", file=sys.stderr)
                    failovers[how] = [
                        measure_failover(lab, how, r % args.nodes, args.timeout)
                        for r in range(args.rounds)]
            finally:
                watcher.stop()
    finally:
        teardown(options.state_dir, options.prefix)
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return rows, failovers


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value >= 0.01 else f"{value * 1000:.1f} ms"


def ms_spread(values: list[float]) -> str:
    return " / ".join(ms(v) for v in (min(values), statistics.median(values), max(values)))


def print_results(report: Report, nodes: int,
                  results: list[tuple[str, Rows, dict[str, list[float]]]]) -> None:
    report.note(
        f"End to end on the lab ({nodes} nodes, ExaBGP in node namespaces, "
        f"{os.cpu_count()} cores): Service created -> /32 at the router with all {nodes} "
        "next hops (FRR, BIRD: its kernel table; GoBGP: its RIB, it installs no kernel "
        "route). Baseline (same run): create -> status.loadBalancer written.")
    table = []
    for router, rows, _failovers in results:
        for label, _count, status, routed in rows:
            status_p50 = [statistics.median(r) for r in status]
            routed_p50 = [statistics.median(r) for r in routed]
            table.append((router, label, len(status), ms_spread(status_p50),
                          ms(pct([v for r in status for v in r], 0.99)), ms_spread(routed_p50),
                          ms(pct([v for r in routed for v in r], 0.99)),
                          fmt_spread(paired_ratios(routed_p50, status_p50), "x", 1)))
    report.table("batches", ("router", "services", "rounds", "create->status p50",
                             "p99 (all rounds)", "create->route p50", "p99 (all rounds)",
                             "route / status p50 (paired)"), table,
                 title="p50 columns: min / median / max over the rounds of each round's "
                       "median; p99 over every service of every round; the ratio per round.")
    report.table("failover", ("router", "cause", "runs", "min", "median", "max"),
                 [(router, f"speaker {how}" if how != "link down" else "node link down",
                   len(values), ms(min(values)), ms(statistics.median(values)),
                   ms(max(values)))
                  for router, _rows, failovers in results for how, values in failovers.items()],
                 title="Failover: action -> the router drops that node's next hop "
                       "(hold time 3 s).")
    report.set("raw", {router: {"batches": {label: {"status_s_per_round": status,
                                                    "routed_s_per_round": routed}
                                            for label, _count, status, routed in rows},
                                "failover_s": failovers}
                       for router, rows, failovers in results})
    report.note("1000 services are not measured: IPv4 service addresses must come from the "
                "documentation ranges, and with 192.0.2.0/24 used by the lab's link only 512 "
                "remain (198.51.100.0/24 + 203.0.113.0/24).")


if __name__ == "__main__":
    sys.exit(main())
