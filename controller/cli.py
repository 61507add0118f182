"""Command-line flags of `metallb-controller`, named as upstream MetalLB names them."""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass

from metallb.daemon_cli import DaemonSettings, add_common_flags, common_settings


@dataclass(frozen=True, kw_only=True)
class Settings(DaemonSettings):
    leader_election: bool = True
    lease_name: str = "metallb-controller"
    lease_duration: float = 15.0
    identity: str = ""


def default_identity() -> str:
    """hostname + pid: unique for two replicas on one machine (tests, the lab)."""
    return f"{socket.gethostname()}_{os.getpid()}"


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="metallb-controller",
        description="MetalLB controller: assigns addresses from the configured pools to "
        "Services of type LoadBalancer.",
    )
    add_common_flags(p)
    p.add_argument("--disable-leader-election", dest="leader_election",
                   action="store_false", help="act as leader at once (single replica)")
    p.add_argument("--lease-name", default="metallb-controller",
                   help="name of the Lease in --namespace (default: metallb-controller)")
    p.add_argument("--lease-duration", type=_positive, default=15.0,
                   help="seconds a standby waits for a silent leader (default: 15)")
    p.add_argument("--identity", default=None,
                   help="this replica's name in the lease (default: hostname_pid)")
    return p


def parse_settings(argv: list[str] | None = None) -> Settings:
    args = build_parser().parse_args(argv)
    return Settings(
        **common_settings(args),
        leader_election=args.leader_election,
        lease_name=args.lease_name,
        lease_duration=args.lease_duration,
        identity=args.identity or default_identity(),
    )
