"""What "done" and "idle" mean for every BGP contender (the speaker, raw ExaBGP, raw GoBGP),
so that all are measured the same way: the same poll interval, the same two finish lines,
the same idle check before each round.

* "FRR holds all": FRR's `show bgp ... summary` counts N prefixes received;
* "kernel holds all": the router namespace's kernel table has N routes of `proto bgp`
  (zebra installed them): what traffic would use;
* idle: FRR counts 0 prefixes AND the kernel table has no `proto bgp` route of the family,
  so a round never starts while the previous one is still being torn down.

Both finish lines are polled every `POLL_S`; a figure is therefore late by up to one poll
(plus the poll's own cost: one vtysh or `ip route` call).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.frr import FrrRouter
from metallb.wait import WaitTimeout, poll_until

POLL_S = 0.02  # every contender, both finish lines


@dataclass(frozen=True)
class Finish:
    """Seconds from the clock's start to each finish line (None: not reached in time)."""

    bgp_s: float | None
    kernel_s: float | None


def kernel_bgp_routes(router: FrrRouter, version: int) -> int:
    """Routes of `proto bgp` in the router's kernel table (one line each: the benches'
    routes have one next hop)."""
    out = subprocess.run(["ip", f"-{version}", "-n", router.netns, "route", "show", "proto",
                          "bgp"], capture_output=True, text=True, check=True, timeout=30).stdout
    return sum(1 for line in out.splitlines() if line and not line[0].isspace())


def _version(family: str) -> int:
    return 6 if family == "ipv6" else 4


def _finish(router: FrrRouter, n: int, family: str, frr_holds: Callable[[], bool],
            start: float, timeout: float) -> Finish:
    """Wait until `frr_holds()`, then until the kernel has `n` BGP routes; seconds from
    `start` (monotonic) to each."""
    try:
        poll_until(frr_holds, timeout, interval=POLL_S, max_interval=POLL_S,
                   what=f"FRR to hold {n} prefixes")
    except WaitTimeout:
        return Finish(None, None)
    bgp_s = time.monotonic() - start
    try:
        poll_until(lambda: kernel_bgp_routes(router, _version(family)) == n, timeout,
                   interval=POLL_S, max_interval=POLL_S, what=f"{n} kernel routes")
    except WaitTimeout:
        return Finish(bgp_s, None)
    return Finish(bgp_s, time.monotonic() - start)


def until_router_holds(router: FrrRouter, n: int, family: str, start: float,
                       timeout: float) -> Finish:
    """Wait until FRR, then the kernel, hold `n` routes; seconds from `start` (monotonic)."""
    return _finish(router, n, family, lambda: router.prefixes_received(family) == n, start,
                   timeout)


def _summary_peers(router: FrrRouter, family: str) -> list[dict]:
    data = router.vtysh_json(f"show bgp {family} unicast summary json")
    return list(data.get("peers", {}).values())


def before_reset(router: FrrRouter, family: str) -> int:
    """The latest session's establishment time (FRR's epoch seconds), returned once the
    wall clock is past that second, so a session established after this call shows a
    later one. (Not FRR's connection counters: a dynamic peer starts them again at 1.)"""
    epoch = max(int(p.get("peerUptimeEstablishedEpoch", 0))
                for p in _summary_peers(router, family))
    poll_until(lambda: time.time() >= epoch + 1, 5, interval=0.05, what="the next second")
    return epoch


def until_router_holds_again(router: FrrRouter, n: int, family: str, epoch: int,
                             start: float, timeout: float) -> Finish:
    """After a fault that resets the session: wait until a session established after
    `epoch` (see before_reset) holds `n` prefixes (one snapshot says both, so a reset
    faster than the poll is not missed), then until the kernel has `n` BGP routes; seconds
    from `start`. The kernel figure is a lower bound: zebra may not have removed every
    route of the old session yet."""
    def again() -> bool:
        peers = _summary_peers(router, family)
        return (max((int(p.get("peerUptimeEstablishedEpoch", 0)) for p in peers),
                    default=0) > epoch
                and sum(int(p.get("pfxRcd", 0)) for p in peers) == n)

    return _finish(router, n, family, again, start, timeout)


def wait_idle(router: FrrRouter, family: str, timeout: float = 60) -> None:
    """Until FRR counts no prefix and the kernel has no BGP route of the family."""
    poll_until(lambda: router.prefixes_received(family) == 0
               and kernel_bgp_routes(router, _version(family)) == 0, timeout,
               interval=POLL_S, max_interval=0.2, what="the router idle (FRR and kernel empty)")
