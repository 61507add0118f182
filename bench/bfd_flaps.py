"""No false alarm: BFD 50x3 flaps while the speaker works through a 10k-service burst and
then churn.

    sudo python3 bench/bfd_flaps.py [--services 10000] [--churn-s 600] [--churn-per-s 50] [--json]

One node runs the real speaker (in this process, with the API emulator: their work
and GC compete with everything else) with ExaBGP and our BFD process in its network
namespace; FRR (bgpd, zebra, bfdd at SCHED_FIFO `--router-realtime-priority`, as
another machine would be) peers over IPv4 and IPv6, both sessions watched by BFD 50x3
(150 ms detection). Phase 1: `--services` services with an endpoint on the node are
created at once (4 API threads) until FRR holds every /128. Phase 2: for `--churn-s`
seconds, `--churn-per-s` services a second lose their endpoints and get them back
(withdraw + announce). A flap is a session-down counted by FRR's bfdd or by our BFD
process; the goal is 0. Prints one line per phase; with --json the last line is the
whole result as JSON.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json

from lab.harness.bfd_lab import P50, bfd_speaker_cluster, speaker_bfd_config
from lab.harness.speaker_cluster import SpeakerCluster
from metallb.wait import poll_until

POOL = "2001:db8:1::/112"


def address(i: int) -> str:
    return f"2001:db8:1::{i + 1:x}"


def flaps(cluster: SpeakerCluster) -> dict[str, int]:
    """Session-down events so far: FRR's (both node addresses) and ours."""
    frr = sum(int(e.get("session-down", 0)) for e in cluster.lab.router.vtysh_json(  # type: ignore[union-attr]
        "show bfd peers counters json"))
    stats = cluster.speakers["node0"].bfd.client.stats()  # type: ignore[attr-defined]
    ours = sum(int(s["session_down_events"]) for s in stats["sessions"])
    return {"frr": frr, "ours": ours}


def phase(name: str, cluster: SpeakerCluster, run: object) -> dict[str, object]:
    before = flaps(cluster)
    load0 = os.getloadavg()[0]
    start = time.monotonic()
    run()  # type: ignore[operator]
    took = time.monotonic() - start
    after = flaps(cluster)
    row = {"phase": name, "seconds": round(took, 1),
           "frr_down": after["frr"] - before["frr"], "our_down": after["ours"] - before["ours"],
           "loadavg_before": round(load0, 1), "loadavg_after": round(os.getloadavg()[0], 1)}
    print(f"{name:<28} {took:>7.1f} s  BFD downs: FRR {row['frr_down']}, ours "
          f"{row['our_down']}  (load average {load0:.1f} -> {row['loadavg_after']})",
          flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--churn-s", type=float, default=600.0)
    parser.add_argument("--churn-per-s", type=int, default=50)
    parser.add_argument("--router-realtime-priority", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces, FRR)", file=sys.stderr)
        return 2
    n = args.services
    with bfd_speaker_cluster(1, P50, hold_time=3) as cluster:
        if args.router_realtime_priority:
            for pid in cluster.lab.router.pids().values():
                os.sched_setscheduler(pid, os.SCHED_FIFO,
                                      os.sched_param(args.router_realtime_priority))
        config = speaker_bfd_config(P50, hold_time=3)
        config["address-pools"] = [{"name": "bench", "protocol": "bgp", "addresses": [POOL]}]
        cluster.set_config(config)
        node = cluster.lab.nodes[0]
        router = cluster.lab.router
        poll_until(lambda: all(e["status"] == "up" for e in router.bfd_peers())  # type: ignore[union-attr]
                   and len(router.bfd_peers()) == 2, 30, what="2 BFD sessions up")  # type: ignore[union-attr]
        pool = ThreadPoolExecutor(4)

        def one(i: int) -> None:
            cluster.service(f"svc-{i}", [address(i)])
            cluster.endpoints(f"svc-{i}", [node])

        def burst() -> None:
            list(pool.map(one, range(n)))
            poll_until(lambda: router.prefixes_received("ipv6") == n, args.timeout,
                       interval=0.5, max_interval=1.0, what=f"FRR to hold {n} /128s")

        def churn() -> None:
            end = time.monotonic() + args.churn_s
            k = 0
            while time.monotonic() < end:
                tick = time.monotonic()
                batch = [(k + j) % n for j in range(args.churn_per_s)]
                k += args.churn_per_s
                list(pool.map(lambda i: cluster.endpoints(f"svc-{i}", [node], ready=False),
                              batch))
                list(pool.map(lambda i: cluster.endpoints(f"svc-{i}", [node]), batch))
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))  # the churn's pace

        rows = [phase(f"burst of {n} services", cluster, burst),
                phase(f"churn {args.churn_s:.0f} s x {args.churn_per_s}/s", cluster, churn)]
        pool.shutdown()
    total = {"frr_down": sum(r["frr_down"] for r in rows),  # type: ignore[misc]
             "our_down": sum(r["our_down"] for r in rows)}  # type: ignore[misc]
    print(f"BFD 50x3 flaps in total: FRR {total['frr_down']}, ours {total['our_down']}")
    if args.json:
        print(json.dumps({"services": n, "churn_s": args.churn_s,
                          "churn_per_s": args.churn_per_s, "cpus": os.cpu_count(),
                          "phases": rows, **total}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
