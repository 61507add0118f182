"""Command-line flags of `metallb-controller`, named as upstream MetalLB names them."""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from metallb.daemon_cli import DaemonSettings, add_common_flags, common_settings


@dataclass(frozen=True, kw_only=True)
class Settings(DaemonSettings):
    """Everything the controller daemon can be told; the only place its defaults are
    written (the flags read them from here). Tunables without a flag are set by code
    that builds a daemon (tests, benchmarks)."""

    leader_election: bool = True
    lease_name: str = "metallb-controller"
    lease_duration: float = 15.0
    """Seconds a standby waits for a silent leader; the leader gives up renewing after
    2/3 of it and retries every 1/7.5 of it (client-go's 15 s / 10 s / 2 s)."""
    identity: str = ""
    """This replica's name in the lease; empty: hostname_pid."""
    write_timeout: float = 30.0
    """Seconds one API call of the worker may take: a hung API server must not hang the
    worker (nor shutdown) forever."""
    begin_retry_max: float = 5.0
    """Longest backoff (s) between attempts to read every Service on becoming leader."""
    event_timeout: float = 10.0
    """Seconds one Event write may take."""
    event_drain_timeout: float = 5.0
    """At shutdown, seconds to record the Events still queued (after the lease is
    released); the rest are dropped and counted."""
    event_rate: float = 100.0
    """Events written per second at most, after a burst of `event_burst`."""
    event_burst: int = 200
    event_queue_size: int = 10000
    """Events waiting to be written at most; more are dropped and counted."""
    status_rate: float = 20.0
    """Status writes per second at most (after a burst of 50); each object is written
    at most once a second, its last desired state winning."""
    write_threads: int = 4
    """Threads that carry out the worker's Service writes, so that the writes of
    different Services overlap (the worker alone decides); 0: the worker writes itself."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("lease_duration", "write_timeout", "begin_retry_max", "event_timeout",
                     "event_rate", "status_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.event_drain_timeout < 0:
            raise ValueError(f"event_drain_timeout must be >= 0, got "
                             f"{self.event_drain_timeout}")
        if self.event_burst < 1 or self.event_queue_size < 1:
            raise ValueError("event_burst and event_queue_size must be at least 1")
        if self.write_threads < 0:
            raise ValueError(f"write_threads must be >= 0, got {self.write_threads}")


def default_identity() -> str:
    """hostname + pid: unique for two replicas on one machine (tests, the lab)."""
    return f"{socket.gethostname()}_{os.getpid()}"


def _at_least(minimum: int, convert: Callable[[str], float], what: str, unit: str = ""
              ) -> Callable[[str], float]:
    """An argparse type: `convert(text)`, refused when not `what` or below `minimum`."""
    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{unit}, got {text}")
        return value
    return parse


_positive = _at_least(1, float, "a number of seconds", " second")
_count = _at_least(0, int, "a whole number")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="metallb-controller",
        description="MetalLB controller: assigns addresses from the configured pools to "
        "Services of type LoadBalancer.",
    )
    add_common_flags(p)
    p.add_argument("--disable-leader-election", dest="leader_election",
                   action="store_false", help="act as leader at once (single replica)")
    d = Settings
    p.add_argument("--lease-name", default=d.lease_name,
                   help=f"name of the Lease in --namespace (default: {d.lease_name})")
    p.add_argument("--lease-duration", type=_positive, default=d.lease_duration,
                   help="seconds a standby waits for a silent leader "
                   f"(default: {d.lease_duration:g})")
    p.add_argument("--identity", default=d.identity or None,
                   help="this replica's name in the lease (default: hostname_pid)")
    p.add_argument("--write-threads", type=_count, default=d.write_threads,
                   help="threads writing Services' status beside the one deciding worker; "
                   f"0: the worker writes itself (default: {d.write_threads}; not upstream)")
    return p


def parse_settings(argv: list[str] | None = None) -> Settings:
    args = build_parser().parse_args(argv)
    return Settings(
        **common_settings(args),
        leader_election=args.leader_election,
        lease_name=args.lease_name,
        lease_duration=args.lease_duration,
        identity=args.identity or default_identity(),
        write_threads=args.write_threads,
    )
