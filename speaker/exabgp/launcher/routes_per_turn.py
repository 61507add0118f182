"""Fix 4: 1000 routes of an API command per reactor turn instead of 50.

`ASYNC.run` advances the pending API command by at most `ASYNC.LIMIT` (50) steps per
reactor turn (a step of the `announce|withdraw attributes` handlers is one route), then
lets every peer send what is pending: a burst leaves as UPDATEs of ~50 routes.
`ASYNC_ROUTES_PER_TURN` (1000, the driver's batch) fills UPDATEs instead. The meaning
of the constant is in `ASYNC.run`, which is therefore fingerprinted with it.

Replaces `exabgp.reactor.asynchronous.ASYNC.LIMIT`, verified against ExaBGP 4.2.25
(guard.VERIFIED_VERSION); the fingerprints are in FIX below.

Contract test: tests/bgp/test_exabgp_launcher_reactor.py (one turn of ExaBGP's own
`ASYNC.run` puts 1000 routes of a 1200-route command into the RIB, and the next the rest).
"""

from __future__ import annotations

from exabgp.reactor.asynchronous import ASYNC

from .guard import Verified, attribute_fix

ASYNC_ROUTES_PER_TURN = 1000  # = speaker.exabgp_config.DEFAULT_BATCH


FIX = attribute_fix(
    ASYNC, "LIMIT", "1a6562590ef19d1045d06c4055742d38288e9e6dcd71ccde5cee80f1d5a774eb",  # 50
    make=lambda _original: ASYNC_ROUTES_PER_TURN,
    relies_on=(Verified.attribute(ASYNC, "run",
                                  "d282a3060c1c7b33afe2bc94756a0326e53963b4d42b70c2dc81833e13205f92"),),
)
