"""BGP-level failover: how long a failed node stays in the router's ECMP set, with the
BGP hold time alone and with BFD 300x3 / 100x3 / 50x3 ms.

    sudo python3 bench/bfd_failover.py [--rounds 5] [--hold-time 3] [--json]

Two nodes run the real speaker (ExaBGP and, with BFD, our BFD process in their network
namespaces); FRR (bgpd + zebra, and bfdd with `neighbor ... bfd profile`) in the router
namespace spreads a service's /32 over both. Per setting and fault, `--rounds` times:
the fault is put on node1, then the router namespace's kernel table is polled every
`--poll-ms` (default 10) until node1's next hop is gone; the time from the fault being
in place to that poll is one sample. Faults:
- frozen: SIGSTOP of ExaBGP (its process group, the API relay included) and the BFD
  process. The speaker daemon itself runs inside this script and is not stopped; it
  sends nothing on the wire, so to the router the node is as silent as a frozen one.
- link down: the node's veth end set down (the router's bridge stays up, as a switch
  would), injection time taken when `ip` returns. The node keeps its IPv6 address
  while the link is down (`keep_addr_on_down`; Linux flushes it otherwise, and the
  IPv6 session could not come back).
Between rounds the node is thawed / its link set up, and the next round waits for both
next hops, every BGP session and (with BFD) every BFD session up with agreed timers.
The router's daemons run at SCHED_FIFO `--router-realtime-priority` (default 10): in
the lab they share the nodes' CPUs, in real life the router is another machine. Prints
a table; with --json the last line is the whole result as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.harness.bfd_lab import (
    P50,
    P100,
    P300,
    Profile,
    bfd_speaker_cluster,
    frr_bfd_status,
    node_processes,
    signal_processes,
)
from lab.harness.speaker_cluster import SpeakerCluster
from lab.netns import ip
from metallb.wait import poll_until

PREFIX = "198.51.100.60/32"
FAULTS = ("frozen", "link down")


def prioritise_router(cluster: SpeakerCluster, priority: int) -> None:
    if priority:
        for pid in cluster.lab.router.pids().values():
            os.sched_setscheduler(pid, os.SCHED_FIFO, os.sched_param(priority))


def steady(cluster: SpeakerCluster, profile: Profile | None, timeout: float) -> None:
    """Both next hops, all four BGP sessions, and with BFD every session up with the
    profile's timers agreed (the Poll sequence done, so no slow-start detection time)."""
    want = cluster.node_v4
    poll_until(lambda: sorted(cluster.lab.nexthops(PREFIX)) == want, timeout,
               what=f"{PREFIX} via {want}")
    poll_until(lambda: len(cluster.lab.router.established()) == 4, timeout,
               what="4 BGP sessions Established")
    if profile is None:
        return

    def agreed() -> bool:
        entries = cluster.lab.router.bfd_peers()  # type: ignore[union-attr]
        return len(entries) == 4 and all(
            e["status"] == "up" and e.get("remote-transmit-interval") == profile.tx
            for e in entries)

    poll_until(agreed, timeout, what="4 BFD sessions up with agreed timers")


def one_round(cluster: SpeakerCluster, fault: str, poll_s: float, deadline: float) -> float:
    node0, node1 = cluster.lab.nodes
    frozen = node_processes(cluster, node1) if fault == "frozen" else []
    try:
        if fault == "frozen":
            signal_processes(frozen, signal.SIGSTOP)
        else:
            subprocess.run(["ip", "netns", "exec", node1.netns, "sysctl", "-qw",
                            f"net.ipv6.conf.{node1.interface}.keep_addr_on_down=1"],
                           check=True)
            ip("-n", node1.netns, "link", "set", node1.interface, "down")
        injected = time.monotonic()
        poll_until(lambda: cluster.lab.nexthops(PREFIX) == [node0.ipv4], deadline,
                   interval=poll_s, max_interval=poll_s, what="node1's next hop gone")
        return time.monotonic() - injected
    finally:
        if fault == "frozen":
            signal_processes(frozen, signal.SIGCONT)
        else:
            ip("-n", node1.netns, "link", "set", node1.interface, "up")


def setting(profile: Profile | None, hold_time: int, rounds: int, poll_s: float,
            router_priority: int, timeout: float) -> dict[str, object]:
    name = f"BFD {profile.tx}x{profile.multiplier}" if profile else f"hold time {hold_time} s"
    row: dict[str, object] = {"setting": name, "hold_time_s": hold_time,
                              "detect_ms": profile.detect_ms if profile else None}
    with bfd_speaker_cluster(2, profile, hold_time, timeout=timeout) as cluster:
        prioritise_router(cluster, router_priority)
        cluster.service("failover", [PREFIX.split("/")[0]])
        cluster.endpoints("failover", list(cluster.lab.nodes))
        for fault in FAULTS:
            samples = []
            for _ in range(rounds):
                steady(cluster, profile, timeout)
                samples.append(one_round(cluster, fault, poll_s, hold_time * 3 + 10) * 1000)
            row[fault] = {"median_ms": statistics.median(samples), "min_ms": min(samples),
                          "max_ms": max(samples), "samples_ms": [round(s) for s in samples]}
        row["bfd_status_after"] = {a: s for (a, _mh), s in frr_bfd_status(cluster).items()}
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hold-time", type=int, default=3,
                        help="BGP hold time in seconds, every setting (the lab's shortest)")
    parser.add_argument("--poll-ms", type=float, default=10.0)
    parser.add_argument("--settings", default="hold,300,100,50",
                        help="'hold' (hold time only) and BFD profiles by interval (ms)")
    parser.add_argument("--router-realtime-priority", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds each wait for a steady state may take")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces, FRR)", file=sys.stderr)
        return 2
    chosen = args.settings.split(",")
    profiles: list[Profile | None] = [None] if "hold" in chosen else []
    profiles += [p for p in (P300, P100, P50) if str(p.tx) in chosen]
    started = time.time()
    load_before = os.getloadavg()
    rows = [setting(p, args.hold_time, args.rounds, args.poll_ms / 1000,
                    args.router_realtime_priority, args.timeout) for p in profiles]
    load_after = os.getloadavg()
    print(f"Failover: fault on one of 2 nodes -> FRR's kernel table without its next hop "
          f"(ms; {args.rounds} rounds each; poll every {args.poll_ms:.0f} ms; BGP hold time "
          f"{args.hold_time} s; {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after)")
    print(f"{'setting':<16} {'detect':>6}"
          + "".join(f"  {fault + ' med':>14} {'min':>6} {'max':>6}" for fault in FAULTS))
    for r in rows:
        cells = [r[fault] for fault in FAULTS]
        print(f"{r['setting']:<16} {r['detect_ms'] or '-':>6}" + "".join(
            f"  {c['median_ms']:>14.0f} {c['min_ms']:>6.0f} {c['max_ms']:>6.0f}"  # type: ignore[index]
            for c in cells))
    if args.json:
        print(json.dumps({"started": started, "host": platform.node(),
                          "cpus": os.cpu_count(), "loadavg_before": load_before,
                          "loadavg_after": load_after, "rounds": args.rounds,
                          "poll_ms": args.poll_ms, "results": rows}))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
