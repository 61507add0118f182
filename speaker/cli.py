"""Command-line flags of `metallb-speaker`, named as upstream MetalLB names them; their
defaults are read from `SpeakerSettings` (speaker/settings.py), where each is written."""

from __future__ import annotations

import argparse
import os

from metallb.daemon_cli import add_common_flags, common_settings
from speaker.settings import SpeakerSettings

__all__ = ["SpeakerSettings", "build_parser", "parse_settings"]

BGP_BACKENDS = ("exabgp", "none")


def build_parser() -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(
        prog="metallb-speaker",
        description="MetalLB speaker: announces the addresses of LoadBalancer services "
        "from this node over BGP, through an ExaBGP child process.",
    )
    p.add_argument("--node-name", default=env.get("METALLB_NODE_NAME"),
                   help="name of the Node this speaker runs on (default: METALLB_NODE_NAME)")
    add_common_flags(p)
    p.add_argument("--bgp-backend", choices=BGP_BACKENDS, default=SpeakerSettings.bgp_backend,
                   help="'none' is for benchmarks only: no BGP is spoken, the routes are "
                   "only recorded and logged (bench/cluster.py runs 100 speakers with it)")
    p.add_argument("--exabgp", default=SpeakerSettings.exabgp,
                   help="ExaBGP executable, run as it is (default: the exabgp package of "
                   "this Python, started through speaker/exabgp/launcher/)")
    p.add_argument("--exabgp-netns", default=SpeakerSettings.exabgp_netns, metavar="NAME",
                   help="start ExaBGP inside this network namespace (tests and the lab)")
    p.add_argument("--state-dir", default=SpeakerSettings.state_dir,
                   help="directory for ExaBGP's config, socket and log "
                   f"(default: {SpeakerSettings.STATE_ROOT}/NODE)")
    return p


def parse_settings(argv: list[str] | None = None) -> SpeakerSettings:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.node_name:
        parser.error("--node-name (or METALLB_NODE_NAME) is required: the speaker announces "
                     "for one node")
    return SpeakerSettings(
        node_name=args.node_name,
        **common_settings(args),
        bgp_backend=args.bgp_backend,
        exabgp=args.exabgp,
        exabgp_netns=args.exabgp_netns,
        state_dir=args.state_dir,
    )
