"""BFD failure detection against FRR's bfdd, and flaps under CPU load.

    sudo python3 bench/bfd.py [--repeats 5] [--load-seconds 60] [--realtime-priority N] [--json]

1. Detection, FRR's view: one node's BFD process (our engine) with a session to bfdd
   in the router namespace, per profile 300x3 / 100x3 / 50x3 ms; failure injected
   `--repeats` times each: the node frozen (SIGSTOP of the BFD process) and the node's
   link down (`ip link set eth0 down` in the node namespace). Time from the injection
   until bfdd declared the session down, by bfdd's own log stamp (microseconds), so a
   late poller cannot inflate it. The injection time is taken once the failure is in
   place: for link down, when `ip` returns (its duration is in the JSON, inject_ms_max).
2. Flaps under load: a 50x3 session while `--load-procs` processes (default 2 x cores)
   run a 10k-route-like busy loop (build, sort and serialise 10,000 route dicts, in a
   loop, so their GC runs too) for `--load-seconds`. Counts session-down events on both
   ends; the goal is 0.

FRR's bfdd runs at SCHED_FIFO `--router-realtime-priority` (default 10): in the lab the
router shares the nodes' two cores, in real life it is another machine. Prints tables;
with --json the last line is the whole result as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.harness.bfd_lab import P50, P100, P300, BfdLab, Profile, bfd_lab, frr_peer, node_specs
from metallb.wait import poll_until
from speaker.bfd.client import DEFAULT_REALTIME_PRIORITY, BfdClient
from speaker.bfd.spec import SessionSpec

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


def time_to_down(lab: BfdLab, peer: str, injected: float, timeout: float) -> float:
    """Seconds from `injected` (wall clock) until bfdd declared `peer` down, by bfdd's own
    microsecond log stamp; the vty is only polled to know when to look."""
    poll_until(lambda: lab.bfdd.status(peer) == "down", timeout, interval=0.002,
               max_interval=0.01, what=f"bfdd to see {peer} down")
    downs = [t for t, state in lab.bfdd.state_changes(peer) if state == "down" and t >= injected]
    if not downs:
        raise RuntimeError(f"bfdd's log has no down of {peer} after the injection")
    return downs[0] - injected


def wait_both_up(lab: BfdLab, node_ip: str, key: tuple[str, bool]) -> None:
    client = lab.clients[0]
    poll_until(lambda: lab.bfdd.status(node_ip) == "up" and client.states.get(key) == "up",
               15.0, what="session up on both ends")
    # Let the Poll sequence finish so FRR runs the profile's timers, not the 1 s ones.
    poll_until(lambda: lab.bfdd.entry(node_ip)["remote-transmit-interval"]
               == lab.bfdd.entry(node_ip)["transmit-interval"], 5.0, what="timers agreed")
    # Steady state: a few packets each way at the agreed rate, so no side still runs
    # the detection time of the slow start (RFC 5880 keeps it until the Poll ends).
    packets = our_packets_in(lab)
    poll_until(lambda: our_packets_in(lab) >= packets + 5, 15.0, what="5 more packets")


def our_packets_in(lab: BfdLab) -> int:
    stats = lab.clients[0].stats()
    return sum(int(s["control_packet_input"]) for s in stats["sessions"])  # type: ignore[union-attr]


def prioritise_router(lab: BfdLab, priority: int) -> None:
    """FRR's bfdd at SCHED_FIFO `priority` (0: leave it): the router is another machine
    in real life, so the lab's other work should not make it late."""
    if priority:
        os.sched_setscheduler(lab.bfdd.pid(), os.SCHED_FIFO,  # type: ignore[arg-type]
                              os.sched_param(priority))


@contextlib.contextmanager
def one_session(profile: Profile, realtime: int,
                router_realtime: int) -> Iterator[tuple[BfdLab, BfdClient, SessionSpec]]:
    """A lab with one node whose BFD process has a session with bfdd, asked to start."""
    with bfd_lab(1, lambda lab: [frr_peer(lab, lab.nodes[0], profile)]) as lab:
        prioritise_router(lab, router_realtime)
        client = lab.client(lab.nodes[0], realtime_priority=realtime)
        spec = node_specs(lab, lab.nodes[0], profile)
        client.set_sessions([spec])
        yield lab, client, spec


def detection(profile: Profile, repeats: int, realtime: int,
              router_realtime: int) -> dict[str, object]:
    rows: dict[str, object] = {}
    with one_session(profile, realtime, router_realtime) as (lab, client, spec):
        node = lab.nodes[0]
        for kind in ("frozen", "link down"):
            times: list[float] = []
            inject_ms: list[float] = []
            for _ in range(repeats):
                wait_both_up(lab, node.ipv4, spec.key)
                before = time.time()
                if kind == "frozen":
                    os.kill(client.pid, signal.SIGSTOP)  # type: ignore[arg-type]
                else:
                    lab.link(node, up=False)  # an `ip` process: slow to start under load
                injected = time.time()  # the failure is in place (for `ip`: by now)
                inject_ms.append((injected - before) * 1000)
                try:
                    took = time_to_down(lab, node.ipv4, injected, profile.detect_ms / 1000 + 5)
                finally:
                    if kind == "frozen":
                        os.kill(client.pid, signal.SIGCONT)  # type: ignore[arg-type]
                    else:
                        lab.link(node, up=True)
                times.append(took * 1000)
            rows[kind] = {"median_ms": statistics.median(times), "max_ms": max(times),
                          "samples_ms": [round(t, 1) for t in times],
                          "inject_ms_max": round(max(inject_ms), 1)}
    return {"profile": profile.name, "detect_ms": profile.detect_ms, **rows}


def flaps_under_load(seconds: float, procs: int, realtime: int,
                     router_realtime: int) -> dict[str, object]:
    profile = P50
    with one_session(profile, realtime, router_realtime) as (lab, _client, spec):
        node = lab.nodes[0]
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
                        help="SCHED_FIFO priority of FRR's bfdd (0: normal). The router "
                             "shares this machine's CPUs in the "
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
    results = [detection(p, args.repeats, args.realtime_priority,
                         args.router_realtime_priority) for p in profiles]
    if results:
        print(f"Failure detection seen by FRR's bfdd ({args.repeats} runs each; ms; "
              f"SCHED_FIFO ours {args.realtime_priority}, "
              f"bfdd {args.router_realtime_priority})")
        print(f"{'profile':<9} {'detect':>6}  {'frozen med':>10} {'max':>6}  "
              f"{'link down med':>13} {'max':>6}")
    for r in results:
        fz, ld = r["frozen"], r["link down"]
        print(f"{r['profile']:<9} {r['detect_ms']:>6}  {fz['median_ms']:>10.0f} "  # type: ignore[index]
              f"{fz['max_ms']:>6.0f}  {ld['median_ms']:>13.0f} {ld['max_ms']:>6.0f}")  # type: ignore[index]
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
