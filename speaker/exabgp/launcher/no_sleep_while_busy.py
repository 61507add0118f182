"""Fix 3: the reactor does not sleep while an API command is being worked through.

Between two slices of a pending API command, `Reactor.run` waits for I/O up to 10 ms
when no peer has work (`_wait_for_io(sleep)`, a `poll` with that timeout): a 10k-route
command waited ~2 s in total once routes were grouped. The wrapper polls without a
timeout while the asynchronous queue holds work (`ASYNC.ready()` is False); an idle
ExaBGP still sleeps as before.

Replaces `exabgp.reactor.loop.Reactor._wait_for_io`, verified against ExaBGP 4.2.25
(guard.VERIFIED_VERSION); the fingerprints are in FIX below.

Contract test: tests/bgp/test_exabgp_launcher_reactor.py (the real reactor's poll gets
timeout 0 while a command is pending, its own timeout when idle).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from exabgp.reactor.asynchronous import ASYNC
from exabgp.reactor.loop import Reactor

from .guard import Verified, attribute_fix


def no_sleep_while_busy(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap `Reactor._wait_for_io`: no sleep while an API command is being worked
    through (scheduled asynchronous work left)."""

    @functools.wraps(original)
    def wait_for_io(reactor: Any, sleeptime: int) -> Any:
        if not reactor.asynchronous.ready():
            sleeptime = 0
        return original(reactor, sleeptime)

    return wait_for_io


FIX = attribute_fix(
    Reactor, "_wait_for_io", "abe9694fbe6f86868b188a247915e0165ad2df344e953270c6a7fec50ea63e15",
    make=no_sleep_while_busy,
    relies_on=(
        # how `run` calls it: with the sleep computed each turn, after `asynchronous.run()`
        Verified.attribute(Reactor, "run",
                           "4d1632ca3dfd16da284300889bf608fe1078da79c3bef9c0430631ff55245870"),
        Verified.attribute(ASYNC, "ready",
                           "dfc08b1bf055f377881a1b07e8b469365e83b42f4f381b1d437ae7f1025e4a1d"),
    ),
)
