"""What both daemons share on the command line: the flags upstream MetalLB gives both
(same names, same defaults). Logging itself lives in metallb.logs."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

from metallb.config_source.observed import AUTO, CONFIG_SOURCES
from metallb.logs import LOG_LEVELS


@dataclass(frozen=True, kw_only=True)
class DaemonSettings:
    """The settings add_common_flags() gives both daemons; each extends it.

    The only place their defaults are written: the flags read them from here."""

    kubeconfig: str | None = None
    namespace: str = "metallb-system"
    config_name: str = "metallb"
    config_key: str = "config"
    config_source: str = AUTO
    """Where the config comes from: "configmap" (the legacy ConfigMap), "crds" (the
    metallb.io objects in `namespace`), or "auto": the objects as soon as one exists,
    else the ConfigMap."""
    config_kind_retry: float = 10.0
    """Seconds between lists of a metallb.io kind whose CRD is not installed."""
    host: str = "0.0.0.0"
    port: int = 7472
    load_balancer_class: str | None = None
    log_level: str = "info"
    status: bool = True
    """Write the status objects (metallb.status): pool counts, Service conditions,
    ConfigurationState, ServiceBGPStatus, BGPSessionState. Off only to measure their cost."""

    def __post_init__(self) -> None:
        if self.config_source not in CONFIG_SOURCES:
            raise ValueError(f"config_source must be one of {', '.join(CONFIG_SOURCES)}, "
                             f"got {self.config_source!r}")
        if self.config_kind_retry <= 0:
            raise ValueError(f"config_kind_retry must be > 0, got {self.config_kind_retry}")


def port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0..65535; 0 = any free)")
    return int(text)


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """--kubeconfig, --namespace, --config, --config-source, --host, --port, --lb-class,
    --log-level, --status."""
    env = os.environ
    d = DaemonSettings
    parser.add_argument("--kubeconfig", default=d.kubeconfig,
                        help="kubeconfig file (default: in-cluster, then KUBECONFIG, "
                        "then ~/.kube/config)")
    parser.add_argument("--namespace",
                        default=env.get("METALLB_NAMESPACE") or d.namespace,
                        help="namespace of the config (and the controller's lease) "
                        f"(default: METALLB_NAMESPACE or {d.namespace})")
    parser.add_argument("--config", dest="config_name", default=d.config_name,
                        help=f"name of the ConfigMap holding the config under key "
                        f"{d.config_key!r} (default: {d.config_name})")
    parser.add_argument("--config-source", choices=CONFIG_SOURCES,
                        default=env.get("METALLB_CONFIG_SOURCE") or d.config_source,
                        help="configmap: the ConfigMap; crds: the metallb.io objects in "
                        "--namespace; auto: the objects as soon as one exists, else the "
                        f"ConfigMap (default: METALLB_CONFIG_SOURCE or {d.config_source})")
    parser.add_argument("--host", default=env.get("METALLB_HOST") or d.host,
                        help="address the metrics server binds "
                        f"(default: METALLB_HOST or {d.host})")
    parser.add_argument("--port", type=port, default=d.port,
                        help=f"metrics port (default: {d.port}; 0 picks a free one)")
    parser.add_argument("--lb-class", dest="load_balancer_class",
                        default=d.load_balancer_class,
                        help="serve only services with this spec.loadBalancerClass "
                        "(default: only services without one)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=d.log_level)
    parser.add_argument("--status", choices=("on", "off"), default="on" if d.status else "off",
                        help="write status objects in the API (default: on)")


def common_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The values of add_common_flags(), as keyword arguments for a daemon's settings."""
    return {
        "kubeconfig": args.kubeconfig,
        "namespace": args.namespace,
        "config_name": args.config_name,
        "config_source": args.config_source,
        "host": args.host,
        "port": args.port,
        "load_balancer_class": args.load_balancer_class or None,
        "log_level": args.log_level,
        "status": args.status == "on",
    }


def exit_now(code: int) -> NoReturn:
    """End a daemon whose `main` has returned: its shutdown is done (routes withdrawn,
    queues drained, threads told to stop), so skip the interpreter's teardown, which
    frees every cached object one by one and with 100,000 Services took a minute or
    more after `speaker_stopped` (past a pod's grace period); logs are flushed first."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe
            stream.flush()
    os._exit(code)
