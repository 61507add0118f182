"""Speaker end to end against real FRR: from the moment N services become announceable to
FRR (and the router's kernel) holding every prefix, and back for withdraw; beside it, in
the same run and into the same FRR, the same prefixes injected raw by ExaBGP as released,
by ExaBGP as the speaker runs it (speaker/exabgp/launcher/, group-updates on) and by
GoBGP (gobgpd fed over gRPC, bench/gobgp_raw.py; skipped if gobgpd is not installed);
failover times; RSS of the speaker process and of its ExaBGP.

    sudo python3 bench/speaker.py [--services 1000,10000] [--repeat 3]

Services are created with their status already written (as the controller would), while
the config holds no pool for their addresses; the clock starts when the pool is added to
the ConfigMap, so the figure is the speaker's own pipeline (watch -> plan -> ExaBGP ->
FRR), not the emulator's write speed. "Withdraw all" is timed from one write too: the
node gets the exclude-from-external-load-balancers label (removing the pool instead is a
config the speaker refuses while services hold its addresses, as the controller does).
The /128s come from 2001:db8::/32: the IPv4 documentation ranges hold only 768
addresses. Run from the repository root.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.exabgp_raw import rss_mb, run_raw
from bench.gobgp_raw import compile_protos, gobgpd_version, run_gobgp
from lab.harness.bgplab import NODE_ASN, ROUTER_ASN
from lab.harness.speaker_cluster import SpeakerCluster, speaker_cluster
from lab.routes import kernel_routes
from metallb.wait import poll_until
from speaker.exabgp.supervisor import default_exabgp_cmd, stock_exabgp_cmd
from speaker.planner import EXCLUDE_LABEL

POOL = "2001:db8:1::/112"


def config(with_pool: bool) -> dict:
    pools = [{"name": "bench", "protocol": "bgp", "addresses": [POOL]}] if with_pool else []
    return {
        "peers": [{"peer-address": "2001:db8:ffff::1", "peer-asn": ROUTER_ASN,
                   "my-asn": NODE_ASN, "hold-time": "3s"}],
        "address-pools": pools,
    }


def address(i: int) -> str:
    return f"2001:db8:1::{i + 1:x}"


def kernel_route_count(cluster: SpeakerCluster) -> int:
    """BGP routes to the benchmark's service addresses in the router's kernel table."""
    routes = kernel_routes(cluster.lab.topology.router, "proto", "bgp", version=6)
    return sum(1 for dst in routes if dst.startswith("2001:db8:1::"))


def populate(cluster: SpeakerCluster, n: int) -> None:
    node = cluster.lab.nodes[0]
    for i in range(n):
        cluster.service(f"svc-{i}", [address(i)])
        cluster.endpoints(f"svc-{i}", [node])


def speaker_process(cluster: SpeakerCluster, node_index: int, workdir: Path,
                    tag: str) -> subprocess.Popen[bytes]:
    """`python -m speaker` for one lab node, as users run it (its log in workdir)."""
    node = cluster.lab.nodes[node_index]
    kubeconfig = cluster.server.write_kubeconfig(workdir / "kubeconfig")
    with open(workdir / f"speaker-{tag}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "speaker", "--node-name", f"node{node_index}",
             "--kubeconfig", str(kubeconfig), "--namespace", "metallb-system",
             "--host", "127.0.0.1", "--port", "0", "--log-level", "warn",
             "--exabgp-netns", node.netns, "--state-dir", str(workdir / f"state-{tag}")],
            stdout=log, stderr=subprocess.STDOUT)


def measure_speaker(n: int, workdir: Path, repeat: int) -> dict[str, list[float]]:
    """`repeat` rounds, each: a speaker process measured for pool added (announce) and its
    node excluded (withdraw), then stopped; then the baselines into the same FRR: raw ExaBGP as
    released and as the speaker runs it, and GoBGP (if gobgpd is installed). Interleaving
    the rounds puts every contender under the same machine conditions."""
    runs: dict[str, list[float]] = {k: [] for k in (
        "announce_bgp", "announce_kernel", "withdraw_bgp", "raw_stock", "raw_lean", "gobgp",
        "rss_speaker", "rss_exabgp")}
    with speaker_cluster(1, start_speakers=False) as cluster:
        cluster.set_config(config(with_pool=False))
        populate(cluster, n)
        router = cluster.lab.router
        routes = [f"{address(i)}/128" for i in range(n)]
        topo = cluster.lab.topology
        node = cluster.lab.nodes[0]
        api_dir = compile_protos(gobgpd_version()) if shutil.which("gobgpd") else None
        for r in range(repeat):
            proc = speaker_process(cluster, 0, workdir, f"bulk{r}")
            try:
                poll_until(lambda: router.established(), 120, what="IPv6 session")
                start = time.monotonic()
                cluster.set_config(config(with_pool=True))
                poll_until(lambda: router.prefixes_received("ipv6") == n, 600, interval=0.02,
                           max_interval=0.05, what=f"FRR holding {n} prefixes")
                runs["announce_bgp"].append(time.monotonic() - start)
                poll_until(lambda: kernel_route_count(cluster) == n, 600, interval=0.05,
                           what="kernel routes")
                runs["announce_kernel"].append(time.monotonic() - start)
                for key, pid in (("rss_speaker", proc.pid),
                                 ("rss_exabgp", _exabgp_pid(workdir / f"state-bulk{r}"))):
                    runs[key].append(rss_mb(pid) or float("nan"))

                start = time.monotonic()
                cluster.patch_node(node, {"metadata": {"labels": {EXCLUDE_LABEL: ""}}})
                poll_until(lambda: router.prefixes_received("ipv6") == 0, 600, interval=0.02,
                           max_interval=0.05, what="FRR empty")
                runs["withdraw_bgp"].append(time.monotonic() - start)
                poll_until(lambda: kernel_route_count(cluster) == 0, 600, interval=0.05,
                           what="kernel routes gone")
            finally:
                proc.terminate()
                proc.wait(30)
            # The next round's speaker starts on the config without the pool, node included.
            cluster.set_config(config(with_pool=False))
            cluster.patch_node(node, {"metadata": {"labels": {EXCLUDE_LABEL: None}}})
            poll_until(lambda: not router.established(), 30, what="speaker session closed")
            # ExaBGP as released, in its fastest form (no group-updates), and as the
            # speaker runs it (the launcher, group-updates on).
            for key, cmd, grouped in (("raw_stock", stock_exabgp_cmd(), False),
                                      ("raw_lean", default_exabgp_cmd(), True)):
                result = run_raw(cmd, "4.2", "neighbor-batched", grouped, topo, router,
                                 routes, Path(tempfile.mkdtemp(dir=workdir)), 600)
                runs[key].append(result.seconds or float("nan"))
            if api_dir is not None:
                result = run_gobgp(topo, router, routes, Path(tempfile.mkdtemp(dir=workdir)),
                                   600, api_dir=api_dir)
                runs["gobgp"].append(result.seconds or float("nan"))
    return runs


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


def span(values: list[float]) -> str:
    """'best / median s' of a list of seconds ('-' when nothing was measured)."""
    if not values:
        return "-"
    return f"{min(values):.2f} / {statistics.median(values):.2f} s"


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
    parser.add_argument("--services", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3,
                        help="announce/withdraw rounds and baseline runs per size")
    parser.add_argument("--failover-rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/speaker.py needs root (network namespaces, FRR)", file=sys.stderr)
        return 2
    counts = [int(x) for x in args.services.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-speaker-") as tmp:
        Path(tmp).chmod(0o711)
        print(f"best / median of {args.repeat} interleaved rounds; GoBGP = gobgpd 3.10 fed "
              "by AddPathStream (bench/gobgp_raw.py); FRR polled every 20-50 ms")
        print("| services | speaker: FRR has all | + kernel | withdraw all | raw ExaBGP as "
              "released | raw ExaBGP as the speaker runs it (floor) | speaker / floor (best) "
              "| raw GoBGP | speaker / GoBGP (best, median) | speaker RSS MiB | "
              "ExaBGP RSS MiB |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for n in counts:
            work = Path(tmp) / f"n{n}"
            work.mkdir()
            r = measure_speaker(n, work, args.repeat)
            ratio = (f"{min(r['announce_bgp']) / min(r['gobgp']):.2f}x, "
                     f"{statistics.median(r['announce_bgp']) / statistics.median(r['gobgp']):.2f}x"
                     if r["gobgp"] else "gobgpd not installed")
            print(f"| {n:,} | {span(r['announce_bgp'])} | {span(r['announce_kernel'])} | "
                  f"{span(r['withdraw_bgp'])} | {span(r['raw_stock'])} | "
                  f"{span(r['raw_lean'])} | "
                  f"{min(r['announce_bgp']) / min(r['raw_lean']):.2f}x | "
                  f"{span(r['gobgp'])} | {ratio} | "
                  f"{max(r['rss_speaker']):.0f} | {max(r['rss_exabgp']):.0f} |", flush=True)
        work = Path(tmp) / "failover"
        work.mkdir()
        failover = measure_failover(work, args.failover_rounds)
        print()
        print("| fault on one of three nodes | next hop dropped at the router "
              "(median, max over rounds) |")
        print("|---|---|")
        for fault, times in failover.items():
            print(f"| {fault} | {statistics.median(times) * 1000:.0f} ms, "
                  f"{max(times) * 1000:.0f} ms ({len(times)} rounds) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
