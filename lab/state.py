"""Where a lab lives and what it runs: the state directory layout and `lab.json`.

`up` writes the state file as soon as each part starts (not only at the end), so a lab
that failed half-way or whose command was killed can still be taken down by `down`.
Defaults come from the environment so tests run a lab that never meets the user's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lab.processes import LabProcess

DEFAULT_STATE_DIR = "/tmp/metallb-lab"  # short: ExaBGP's Unix sockets live below it
DEFAULT_PREFIX = "mlab"
STATE_DIR_ENV = "METALLB_LAB_STATE_DIR"
PREFIX_ENV = "METALLB_LAB_PREFIX"
STATE_FILE = "lab.json"


def default_state_dir() -> str:
    return os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR


def default_prefix() -> str:
    return os.environ.get(PREFIX_ENV) or DEFAULT_PREFIX


@dataclass(frozen=True)
class LabNode:
    """One node: its Node object's name, its namespace and its address on the link."""

    name: str
    namespace: str
    address: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "namespace": self.namespace, "address": self.address}


@dataclass(frozen=True)
class LabRouter:
    """One upstream router of the lab: its kind (frr, bird, gobgp), namespace, the address
    the nodes peer with, and its state directory (sockets, pidfiles, logs)."""

    kind: str
    namespace: str
    address: str
    state_dir: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "address": self.address,
                "state_dir": self.state_dir}


@dataclass(frozen=True)
class LabState:
    """Everything `status` and `down` need; grows while `up` proceeds."""

    state_dir: str
    prefix: str
    kubeconfig: str = ""
    router_namespace: str = ""
    router_address: str = ""
    frr_dir: str = ""
    nodes: tuple[LabNode, ...] = ()
    processes: tuple[LabProcess, ...] = ()
    metrics: dict[str, str] = field(default_factory=dict)  # process name -> host:port
    prometheus_url: str | None = None
    complete: bool = False  # `up` finished: every session was Established
    containers: tuple[str, ...] = ()  # podman container names (`up --containers`)
    probes: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # name -> probes
    topology: str = "flat"  # or "packet" (lab/packet.py)
    # Every BGP router; router_namespace / router_address / frr_dir are the first one's
    # (frr_dir: its state directory, whatever its kind).
    routers: tuple[LabRouter, ...] = ()

    def with_process(self, process: LabProcess) -> LabState:
        return replace(self, processes=(*self.processes, process))

    def without_process(self, name: str) -> LabState:
        return replace(self, processes=tuple(p for p in self.processes if p.name != name))

    def process(self, name: str) -> LabProcess | None:
        return next((p for p in self.processes if p.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "state_dir": self.state_dir, "prefix": self.prefix, "kubeconfig": self.kubeconfig,
            "router_namespace": self.router_namespace, "router_address": self.router_address,
            "frr_dir": self.frr_dir, "nodes": [n.to_json() for n in self.nodes],
            "processes": [p.to_json() for p in self.processes], "metrics": self.metrics,
            "prometheus_url": self.prometheus_url, "complete": self.complete,
            "containers": list(self.containers), "probes": self.probes,
            "topology": self.topology, "routers": [r.to_json() for r in self.routers],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        return cls(
            state_dir=data["state_dir"], prefix=data["prefix"], kubeconfig=data["kubeconfig"],
            router_namespace=data["router_namespace"], router_address=data["router_address"],
            frr_dir=data["frr_dir"],
            nodes=tuple(LabNode(**n) for n in data["nodes"]),
            processes=tuple(LabProcess.from_json(p) for p in data["processes"]),
            metrics=dict(data["metrics"]), prometheus_url=data["prometheus_url"],
            complete=bool(data["complete"]),
            containers=tuple(data.get("containers", ())), probes=dict(data.get("probes", {})),
            topology=data.get("topology", "flat"),
            routers=tuple(LabRouter(**r) for r in data.get("routers", [])),
        )


def state_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / STATE_FILE


def save(state: LabState) -> None:
    """Write atomically (rename), so a reader never sees half a file."""
    path = state_path(state.state_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
    tmp.replace(path)


def load(state_dir: str | Path) -> LabState | None:
    """The recorded lab, or None when there is none (or the file is unreadable: `down`
    then cleans up by prefix and state directory alone)."""
    try:
        return LabState.from_json(json.loads(state_path(state_dir).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
