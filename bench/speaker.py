"""Speaker end to end against real FRR: from the moment N services become announceable to
FRR (and the router's kernel) holding every prefix, and back for withdraw; beside it raw
ExaBGP injecting the same prefixes in the same run (the floor), as a ratio; failover
times; RSS of the speaker process and of its ExaBGP.

    sudo python3 bench/speaker.py [--services 1000,10000]

Services are created with their status already written (as the controller would), while
the config holds no pool for their addresses; the clock starts when the pool is added to
the ConfigMap, so the figure is the speaker's own pipeline (watch -> plan -> ExaBGP ->
FRR), not the emulator's write speed. The /128s come from 2001:db8::/32: the IPv4
documentation ranges hold only 768 addresses.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.exabgp_raw import run_raw
from metallb.lab.wait import poll_until
from speaker.exabgp import default_exabgp_cmd
from tests.speaker.cluster import SpeakerCluster, speaker_cluster
from tests.support.bgplab import NODE_ASN, ROUTER_ASN

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


def kernel_routes(cluster: SpeakerCluster) -> int:
    out = subprocess.run(["ip", "-6", "-n", cluster.lab.topology.router, "route", "show",
                          "proto", "bgp"], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if line.startswith("2001:db8:1::"))


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


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


def measure_speaker(n: int, workdir: Path) -> dict[str, float]:
    with speaker_cluster(1, start_speakers=False) as cluster:
        cluster.set_config(config(with_pool=False))
        populate(cluster, n)
        proc = speaker_process(cluster, 0, workdir, "bulk")
        try:
            router = cluster.lab.router
            poll_until(lambda: router.established(), 120, what="IPv6 session")

            start = time.monotonic()
            cluster.set_config(config(with_pool=True))
            poll_until(lambda: router.prefixes_received("ipv6") == n, 600, interval=0.02,
                       max_interval=0.05, what=f"FRR holding {n} prefixes")
            announce_bgp = time.monotonic() - start
            poll_until(lambda: kernel_routes(cluster) == n, 600, interval=0.05,
                       what="kernel routes")
            announce_kernel = time.monotonic() - start
            rss_speaker = rss_mb(proc.pid)
            rss_exabgp = rss_mb(_exabgp_pid(workdir / "state-bulk"))

            start = time.monotonic()
            cluster.set_config(config(with_pool=False))
            poll_until(lambda: router.prefixes_received("ipv6") == 0, 600, interval=0.02,
                       max_interval=0.05, what="FRR empty")
            withdraw_bgp = time.monotonic() - start
        finally:
            proc.terminate()
            proc.wait(30)
        poll_until(lambda: not router.established(), 30, what="speaker session closed")
        routes = [f"{address(i)}/128" for i in range(n)]
        raw = run_raw(default_exabgp_cmd(), "4.2", "neighbor-batched", False,
                      cluster.lab.topology, router, routes, workdir, 600)
    return {
        "announce_bgp": announce_bgp, "announce_kernel": announce_kernel,
        "withdraw_bgp": withdraw_bgp, "raw": raw.seconds or float("nan"),
        "rss_speaker": rss_speaker, "rss_exabgp": rss_exabgp,
    }


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
    parser.add_argument("--services", default="1000,10000")
    parser.add_argument("--failover-rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/speaker.py needs root (network namespaces, FRR)", file=sys.stderr)
        return 2
    counts = [int(x) for x in args.services.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-speaker-") as tmp:
        print("| services | speaker: FRR has all | + kernel | withdraw | raw ExaBGP floor "
              "| ratio | speaker RSS MiB | ExaBGP RSS MiB |")
        print("|---|---|---|---|---|---|---|---|")
        for n in counts:
            work = Path(tmp) / f"n{n}"
            work.mkdir()
            r = measure_speaker(n, work)
            print(f"| {n:,} | {r['announce_bgp']:.2f} s | {r['announce_kernel']:.2f} s | "
                  f"{r['withdraw_bgp']:.2f} s | {r['raw']:.2f} s | "
                  f"{r['announce_bgp'] / r['raw']:.2f}x | {r['rss_speaker']:.0f} | "
                  f"{r['rss_exabgp']:.0f} |", flush=True)
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
