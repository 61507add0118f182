"""BFD failure detection against FRR's bfdd, and flaps under CPU load.

    sudo python3 bench/bfd.py [--repeats 5] [--load-seconds 60] [--realtime-priority N] [--json]

1. Detection, FRR's view: one node's BFD process (our engine) with a session to bfdd
   in the router namespace, per profile 300x3 / 100x3 / 50x3 ms; failure injected
   `--repeats` times each: the node frozen (SIGSTOP of the BFD process) and the node's
   link down (`ip link set eth0 down` in the node namespace). Time from the injection
   until `show bfd peers json` says down. FRR is polled back to back on bfdd's vty
   socket; a poll takes well under a millisecond (printed as "poll ms"), and the time
   is taken at the end of the poll that saw "down", an upper bound by one poll.
2. Flaps under load (bfdd at `--router-realtime-priority`: in the lab the router shares
   the nodes' CPUs): a 50x3 session while `--load-procs` processes (default 2 x cores)
   run a 10k-route-like busy loop (build, sort and serialise 10,000 route dicts, in a
   loop, so their GC runs too) for `--load-seconds`. Counts session-down events on both
   ends; the goal is 0.

Prints tables; with --json the last line is the whole result as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metallb.wait import poll_until
from speaker.bfd.client import DEFAULT_REALTIME_PRIORITY
from tests.bgp.bfd_lab import P50, P100, P300, BfdLab, Profile, bfd_lab, frr_peer, node_specs

BUSY_LOOP = r"""
import json, random, time
end = time.monotonic() + float(__import__('sys').argv[1])
while time.monotonic() < end:
    routes = [{"prefix": f"198.51.{i // 256 % 256}.{i % 256}/32", "next_hop": "192.0.2.11",
               "communities": [f"65000:{random.randint(0, 9)}"], "service": f"ns/svc-{i}"}
              for i in range(10_000)]
    routes.sort(key=lambda r: (r["communities"][0], r["prefix"]))
    json.dumps(routes)
"""


def poll_down(lab: BfdLab, peer: str, timeout: float) -> tuple[float, float]:
    """Seconds until FRR reports `peer` down (end of the poll that saw it) and the
    median duration of one poll."""
    start = time.monotonic()
    durations = []
    while True:
        t0 = time.monotonic()
        status = lab.bfdd.status(peer)
        t1 = time.monotonic()
        durations.append(t1 - t0)
        if status == "down":
            return t1 - start, statistics.median(durations)
        if t1 - start > timeout:
            raise TimeoutError(f"FRR still sees {peer} {status} after {timeout:.1f}s")
        time.sleep(0.001)  # keep a core for the processes being measured


def wait_both_up(lab: BfdLab, node_ip: str, key: tuple[str, bool]) -> None:
    client = lab.clients[0]
    poll_until(lambda: lab.bfdd.status(node_ip) == "up" and client.states.get(key) == "up",
               15.0, what="session up on both ends")
    # Let the Poll sequence finish so FRR runs the profile's timers, not the 1 s ones.
    poll_until(lambda: lab.bfdd.entry(node_ip)["remote-transmit-interval"]
               == lab.bfdd.entry(node_ip)["transmit-interval"], 5.0, what="timers agreed")


def detection(profile: Profile, repeats: int, realtime: int) -> dict[str, object]:
    rows: dict[str, object] = {}
    with bfd_lab(1, lambda lab: [frr_peer(lab, lab.nodes[0], profile)]) as lab:
        node = lab.nodes[0]
        client = lab.client(node, realtime_priority=realtime)
        spec = node_specs(lab, node, profile)
        client.set_sessions([spec])
        for kind in ("frozen", "link down"):
            times, polls = [], []
            for _ in range(repeats):
                wait_both_up(lab, node.ipv4, spec.key)
                if kind == "frozen":
                    os.kill(client.pid, signal.SIGSTOP)  # type: ignore[arg-type]
                else:
                    lab.link(node, up=False)
                try:
                    took, poll = poll_down(lab, node.ipv4, profile.detect_ms / 1000 + 5)
                finally:
                    if kind == "frozen":
                        os.kill(client.pid, signal.SIGCONT)  # type: ignore[arg-type]
                    else:
                        lab.link(node, up=True)
                times.append(took * 1000)
                polls.append(poll * 1000)
            rows[kind] = {"median_ms": statistics.median(times), "max_ms": max(times),
                          "samples_ms": [round(t, 1) for t in times],
                          "poll_ms": statistics.median(polls)}
    return {"profile": profile.name, "detect_ms": profile.detect_ms, **rows}


def flaps_under_load(seconds: float, procs: int, realtime: int,
                     router_realtime: int) -> dict[str, object]:
    profile = P50
    with bfd_lab(1, lambda lab: [frr_peer(lab, lab.nodes[0], profile)]) as lab:
        node = lab.nodes[0]
        if router_realtime:
            # The router is another machine in real life: the nodes' load never reaches it.
            os.sched_setscheduler(lab.bfdd.pid(), os.SCHED_FIFO,  # type: ignore[arg-type]
                                  os.sched_param(router_realtime))
        client = lab.client(node, realtime_priority=realtime)
        spec = node_specs(lab, node, profile)
        client.set_sessions([spec])
        wait_both_up(lab, node.ipv4, spec.key)
        before_frr = frr_down_count(lab, node.ipv4)
        before_ours = our_down_count(lab)
        load = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(seconds)])
                for _ in range(procs)]
        try:
            for proc in load:
                proc.wait(seconds + 60)
        finally:
            for proc in load:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return {"profile": profile.name, "seconds": seconds, "load_procs": procs,
                "realtime_priority": realtime, "router_realtime_priority": router_realtime,
                "frr_session_down_events": frr_down_count(lab, node.ipv4) - before_frr,
                "our_session_down_events": our_down_count(lab) - before_ours,
                "frr_status_after": lab.bfdd.status(node.ipv4),
                # neighbor_signaled_session_down: FRR missed our packets;
                # control_detection_time_expired: we missed FRR's.
                "our_down_diags": [e.data["diag"] for e in lab.events[node.netns]
                                   if e.state == "down" and e.data["old"] == "up"]}


def frr_down_count(lab: BfdLab, peer: str) -> int:
    return sum(int(e.get("session-down", 0)) for e in lab.bfdd.counters_json()
               if e.get("peer") == peer)


def our_down_count(lab: BfdLab) -> int:
    stats = lab.clients[0].stats()
    return sum(int(s["session_down_events"]) for s in stats["sessions"])  # type: ignore[union-attr]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--load-procs", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--realtime-priority", type=int, default=DEFAULT_REALTIME_PRIORITY,
                        help="SCHED_FIFO priority of our BFD process (0: normal; default: "
                             "the client's, %(default)s)")
    parser.add_argument("--router-realtime-priority", type=int, default=10,
                        help="SCHED_FIFO priority of FRR's bfdd during the load run "
                             "(0: normal). The router shares this machine's CPUs in the "
                             "lab, never in real life")
    parser.add_argument("--profiles", default="300,100,50",
                        help="detection runs for these profiles (ms); 'none' for the load "
                             "run only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces, FRR)", file=sys.stderr)
        return 2
    chosen = set() if args.profiles == "none" else {int(p) for p in args.profiles.split(",")}
    profiles = [p for p in (P300, P100, P50) if p.tx in chosen]
    results = [detection(p, args.repeats, args.realtime_priority) for p in profiles]
    if results:
        print(f"Failure detection seen by FRR's bfdd ({args.repeats} runs each; ms)")
        print(f"{'profile':<9} {'detect':>6}  {'frozen med':>10} {'max':>6}  "
              f"{'link down med':>13} {'max':>6}  {'poll ms':>7}")
    for r in results:
        fz, ld = r["frozen"], r["link down"]
        print(f"{r['profile']:<9} {r['detect_ms']:>6}  {fz['median_ms']:>10.0f} "  # type: ignore[index]
              f"{fz['max_ms']:>6.0f}  {ld['median_ms']:>13.0f} {ld['max_ms']:>6.0f}  "  # type: ignore[index]
              f"{fz['poll_ms']:>7.1f}")  # type: ignore[index]
    load = None
    if args.load_seconds > 0:
        load = flaps_under_load(args.load_seconds, args.load_procs, args.realtime_priority,
                                args.router_realtime_priority)
        print(f"\nFlaps of a 50x3 session during {load['seconds']:.0f} s of "
              f"{load['load_procs']} busy 10k-route loops (SCHED_FIFO priority: ours "
              f"{load['realtime_priority']}, bfdd {load['router_realtime_priority']}): "
              f"FRR saw {load['frr_session_down_events']} down, "
              f"we saw {load['our_session_down_events']} down; "
              f"status after: {load['frr_status_after']}; why: {load['our_down_diags']}")
    if args.json:
        print(json.dumps({"detection": results, "load": load}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
