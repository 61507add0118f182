"""Command-line flags of `metallb-controller`, named as upstream MetalLB names them."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from dataclasses import dataclass

LOG_LEVELS = ("debug", "info", "warn", "error")


@dataclass(frozen=True)
class Settings:
    kubeconfig: str | None = None
    namespace: str = "metallb-system"
    config_name: str = "metallb"
    config_key: str = "config"
    host: str = "0.0.0.0"
    port: int = 7472
    load_balancer_class: str | None = None
    log_level: str = "info"
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


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0..65535; 0 = any free)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(
        prog="metallb-controller",
        description="MetalLB controller: assigns addresses from the configured pools to "
        "Services of type LoadBalancer.",
    )
    p.add_argument("--kubeconfig", default=None,
                   help="kubeconfig file (default: in-cluster, then KUBECONFIG, "
                   "then ~/.kube/config)")
    p.add_argument("--namespace", default=env.get("METALLB_NAMESPACE") or "metallb-system",
                   help="namespace of the config and the lease (default: METALLB_NAMESPACE "
                   "or metallb-system)")
    p.add_argument("--config", dest="config_name", default="metallb",
                   help="name of the ConfigMap holding the config under key 'config' "
                   "(default: metallb)")
    p.add_argument("--host", default=env.get("METALLB_HOST") or "0.0.0.0",
                   help="address the metrics server binds (default: METALLB_HOST or 0.0.0.0)")
    p.add_argument("--port", type=_port, default=7472,
                   help="metrics port (default: 7472; 0 picks a free one)")
    p.add_argument("--lb-class", dest="load_balancer_class", default=None,
                   help="handle only services with this spec.loadBalancerClass (and none)")
    p.add_argument("--log-level", choices=LOG_LEVELS, default="info")
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
        kubeconfig=args.kubeconfig,
        namespace=args.namespace,
        config_name=args.config_name,
        host=args.host,
        port=args.port,
        load_balancer_class=args.load_balancer_class or None,
        log_level=args.log_level,
        leader_election=args.leader_election,
        lease_name=args.lease_name,
        lease_duration=args.lease_duration,
        identity=args.identity or default_identity(),
    )


class _KeyValueFormatter(logging.Formatter):
    """One event per line: `ts=... level=... logger=... event=... key=value ...`."""

    def format(self, record: logging.LogRecord) -> str:
        line = (f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}.{int(record.msecs):03d} "
                f"level={record.levelname.lower()} logger={record.name} "
                f"{record.getMessage()}")
        if record.exc_info:  # a bug, not user input: keep the traceback on one line
            line += " traceback=" + repr(self.formatException(record.exc_info))
        return line


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel({"warn": logging.WARNING}.get(level, level.upper()))
    # The client's urllib3 retries log their own multi-line warnings.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
