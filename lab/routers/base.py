"""What every upstream router of the lab offers, in one neutral shape.

The tests, the lab and the benches talk to FRR, BIRD 2 and GoBGP through `UpstreamRouter`:
start / stop / restart, which sessions are Established, the router's own paths for one
prefix (`RoutePath`) and the next hops it installed in the router namespace's kernel
table. Each module of this package turns one router's own query output (vtysh JSON,
`birdc show route all`, `gobgp ... -j`) into these shapes; nothing above it parses a
router's format.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from lab.frr import BfdTimers, pid_alive, terminate
from lab.routes import kernel_nexthops
from metallb.logs import log_event
from metallb.wait import poll_until

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RouterSpec:
    """What the upstream router accepts, whatever its kind.

    `remote_as` is "external" (eBGP nodes with any other ASN), "internal" (iBGP, the
    router's own ASN) or a number. `node_asn` is the nodes' ASN for routers that cannot
    accept "any other ASN" on a dynamic range (GoBGP). `ebgp_multihop` > 1 lets sessions
    come from nodes behind a gateway (the Packet topology).
    """

    asn: int = 64512
    router_id: str = "192.0.2.1"
    listen_v4: str | None = "192.0.2.0/24"
    listen_v6: str | None = "2001:db8:ffff::/64"
    remote_as: str | int = "external"
    node_asn: int = 64513
    password: str | None = None
    maximum_paths: int = 8
    hold_time: int = 3
    keepalive: int = 1
    ebgp_multihop: int | None = None
    # Static neighbors (the nodes' addresses) for what a range cannot do: GoBGP accepts
    # no MD5 password on a dynamic-neighbor range, so with a password it peers with these.
    neighbors: tuple[str, ...] = ()
    # BFD on every node session with these timers (FRR only: bfdd + `neighbor ... bfd`).
    bfd: BfdTimers | None = None

    def peer_asn(self) -> int:
        """The ASN the router expects from nodes, as a number."""
        if self.remote_as == "internal":
            return self.asn
        if self.remote_as == "external":
            return self.node_asn
        return int(self.remote_as)

    def ranges(self) -> list[tuple[str, int]]:
        """(listen range, IP version) for each family the router accepts."""
        return [(r, ipaddress.ip_network(r).version)
                for r in (self.listen_v4, self.listen_v6) if r]


@dataclass(frozen=True)
class BfdSession:
    """One BFD session as the router reports it."""

    peer: str  # the node's address
    local: str
    multihop: bool
    status: str  # "up", "down", "init", "shutdown"
    diagnostic: str
    remote_diagnostic: str
    detect_ms: int | None  # the router's detection time of the node (agreed timers)

    def to_json(self) -> dict[str, object]:
        return {"peer": self.peer, "local": self.local, "multihop": self.multihop,
                "status": self.status, "diagnostic": self.diagnostic,
                "remote_diagnostic": self.remote_diagnostic, "detect_ms": self.detect_ms}


@dataclass(frozen=True)
class RoutePath:
    """One path the router holds for a prefix, as the router itself reports it."""

    prefix: str
    next_hop: str
    peer: str  # the neighbor's address
    as_path: tuple[int, ...] = ()
    communities: tuple[str, ...] = ()  # "A:B", in the order the router lists them
    local_pref: int | None = None


class RouterError(RuntimeError):
    """A router failed to start or a query failed; says which router and why."""


class UpstreamRouter(Protocol):
    """An upstream BGP router running in the lab's router namespace.

    Called from the test's (or the lab command's) thread only; no method blocks longer
    than its timeout. `installs_kernel` says whether `kernel_nexthops` can ever return
    anything: a router that keeps routes only in its RIB answers [] there.
    """

    kind: str
    netns: str
    spec: RouterSpec
    installs_kernel: bool

    def start(self, timeout: float = 10.0) -> UpstreamRouter: ...
    def stop(self, timeout: float = 10.0) -> None: ...
    def restart(self, timeout: float = 10.0) -> UpstreamRouter: ...
    def cleanup(self) -> None: ...
    def pids(self) -> dict[str, int]: ...
    def sessions(self) -> dict[str, str]: ...
    def bfd_sessions(self) -> list[BfdSession]: ...
    def established(self) -> set[str]: ...
    def paths(self, prefix: str) -> list[RoutePath]: ...
    def path_nexthops(self, prefix: str) -> list[str]: ...
    def kernel_nexthops(self, prefix: str) -> list[str]: ...
    def prefixes_received(self, family: str = "ipv4") -> int: ...
    def query_commands(self) -> dict[str, str]: ...
    def wait_for(self, condition: Callable[[], T], timeout: float = 10.0,
                 what: str | None = None) -> T: ...


class RouterQueries:
    """Queries every router derives from `sessions`, `paths` and the kernel table."""

    netns: str

    def sessions(self) -> dict[str, str]:
        raise NotImplementedError

    def paths(self, prefix: str) -> list[RoutePath]:
        raise NotImplementedError

    def established(self) -> set[str]:
        """Addresses of peers whose session is Established."""
        return {peer for peer, state in self.sessions().items() if state == "Established"}

    def bfd_sessions(self) -> list[BfdSession]:
        """The router's BFD sessions; [] for a router the lab runs without BFD."""
        return []

    def path_nexthops(self, prefix: str) -> list[str]:
        """Next hops of the router's own paths for `prefix` (its RIB, before the kernel)."""
        return sorted(p.next_hop for p in self.paths(prefix))

    def kernel_nexthops(self, prefix: str) -> list[str]:
        """Gateways installed for `prefix` in the router namespace's kernel table."""
        return kernel_nexthops(self.netns, prefix)

    def wait_for(self, condition: Callable[[], T], timeout: float = 10.0,
                 what: str | None = None) -> T:
        return poll_until(condition, timeout, what=what)


class PidfileDaemon(RouterQueries):
    """Stop / restart / pids of a router that is one daemon with a pidfile (BIRD, GoBGP).
    Subclasses set `daemon`, `pidfile` and implement `start`."""

    daemon: str
    kind: str
    pidfile: Path

    def start(self, timeout: float = 10.0) -> PidfileDaemon:
        raise NotImplementedError

    def _pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def pids(self) -> dict[str, int]:
        pid = self._pid()
        return {self.daemon: pid} if pid else {}

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM by PID (BIRD then removes its kernel routes), SIGKILL after timeout."""
        pid = self._pid()
        if pid is not None:
            terminate(pid, timeout)
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        log_event(log, "info", "router_stopped", kind=self.kind, netns=self.netns)

    def restart(self, timeout: float = 10.0) -> PidfileDaemon:
        self.stop(timeout)
        return self.start(timeout)

    def cleanup(self) -> None:
        self.stop()
