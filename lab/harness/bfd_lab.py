"""FRR's bfdd (with zebra) in a router namespace, and our BFD process in node namespaces,
for the BFD interop tests and bench/bfd.py.

BFD needs no BGP to be proven, so the router here is lab.frr.FrrRouter without bgpd
(zebra + bfdd, with static `peer` blocks), in its own state directory (own vty socket,
zserv socket and bfdd control socket, so parallel runs never meet). Everything is
stopped by PID and the namespaces deleted in `finally`, also when a test fails.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.frr import FRR_LIBDIR, BfdTimers, FrrError, FrrRouter, RouterConfig
from lab.harness.requires import require_frr, require_program
from lab.netns import Node, Topology, ip
from metallb.wait import poll_until
from speaker.bfd.client import BfdClient, BfdEvent
from speaker.bfd.spec import SessionSpec

if TYPE_CHECKING:
    from lab.harness.speaker_cluster import SpeakerCluster

Profile = BfdTimers  # a BFD profile as both ends use it (milliseconds)

P300 = Profile("p300x3", 300, 300, 3)
P100 = Profile("p100x3", 100, 100, 3)
P50 = Profile("p50x3", 50, 50, 3)


@dataclass(frozen=True)
class FrrPeer:
    """One `peer` block of bfdd's config: the node's address as FRR sees it."""

    address: str
    local: str
    profile: Profile
    multihop: bool = False
    passive: bool = False

    def render(self) -> str:
        mh = " multihop" if self.multihop else ""
        passive = "  passive-mode\n" if self.passive else ""
        return (f" peer {self.address}{mh} local-address {self.local}\n"
                f"  profile {self.profile.name}\n{passive} !\n")


class Bfdd:
    """zebra + bfdd in `netns` (a FrrRouter without bgpd, made by `start` from `peers`);
    state in `state_dir` (traversable by user frr). Adds a kept vty connection to bfdd,
    for polling it every few milliseconds."""

    def __init__(self, netns: str, state_dir: Path, peers: list[FrrPeer]):
        self.netns = netns
        self.state_dir = state_dir
        self.peers = peers
        self.router: FrrRouter | None = None
        self._vty: socket.socket | None = None

    def config(self) -> RouterConfig:
        profiles = sorted({p.profile for p in self.peers}, key=lambda p: p.name)
        return RouterConfig(bgp=False, bfd_profiles=tuple(profiles),
                            bfd_peers=tuple(p.render() for p in self.peers))

    def start(self, timeout: float = 10.0) -> Bfdd:
        """Start what does not run (after `stop_daemon("bfdd")`: bfdd again)."""
        if self.router is None:
            self.router = FrrRouter(self.netns, self.config(), state_dir=self.state_dir)
        self.router.start(timeout)
        return self

    def pid(self, daemon: str = "bfdd") -> int | None:
        return self.router.pids().get(daemon) if self.router is not None else None

    def stop_daemon(self, daemon: str = "bfdd", timeout: float = 10.0) -> None:
        if daemon == "bfdd":
            self._close_vty()
        if self.router is not None:
            self.router.stop_daemon(daemon, timeout)

    def stop(self) -> None:
        self._close_vty()
        if self.router is not None:
            self.router.stop()

    def vty(self, command: str) -> str:
        """One command on bfdd's own vty socket, over a kept connection: ~0.1 ms instead
        of the ~20-80 ms of a vtysh process, so a failure is timed to the millisecond.
        The protocol is vtysh's: the command ends with NUL, the answer with three NULs
        and a status byte (0: success)."""
        for attempt in (1, 2):
            try:
                if self._vty is None:
                    self._vty = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self._vty.settimeout(10)
                    self._vty.connect(str(self.state_dir / "bfdd.vty"))
                    self._exchange("enable")
                return self._exchange(command)
            except OSError as exc:
                self._close_vty()
                if attempt == 2:
                    raise FrrError(f"bfdd vty in {self.netns}: {exc}") from exc
        raise AssertionError("unreachable")

    def _exchange(self, command: str) -> str:
        assert self._vty is not None
        self._vty.sendall(command.encode() + b"\0")
        buf = b""
        while not (len(buf) >= 4 and buf[-4:-1] == b"\0\0\0"):
            chunk = self._vty.recv(65536)
            if not chunk:
                raise ConnectionResetError("bfdd closed its vty")
            buf += chunk
        if buf[-1] != 0:
            raise FrrError(f"bfdd refused {command!r}: {buf[:-4].decode(errors='replace')}")
        return buf[:-4].decode()

    def _close_vty(self) -> None:
        if self._vty is not None:
            self._vty.close()
            self._vty = None

    def peers_json(self) -> list[dict[str, Any]]:
        return json.loads(self.vty("show bfd peers json") or "[]")

    def counters_json(self) -> list[dict[str, Any]]:
        return json.loads(self.vty("show bfd peers counters json") or "[]")

    def status(self, peer: str, multihop: bool = False) -> str | None:
        """FRR's status of the session with `peer` ("up", "down", "init", ...)."""
        for entry in self.peers_json():
            if entry.get("peer") == peer and bool(entry.get("multihop")) == multihop:
                return str(entry.get("status"))
        return None

    def state_changes(self, peer: str) -> list[tuple[float, str]]:
        """(wall-clock time, new state) of each change bfdd logged for `peer`, from its
        log's microsecond timestamps: when bfdd itself decided, however late anyone
        polls it."""
        changes = []
        log = (self.state_dir / "bfdd.log").read_text(errors="replace")
        for line in log.splitlines():
            if "state-change:" not in line or f" peer:{peer} " not in line:
                continue
            stamp = datetime.datetime.strptime(line[:26], "%Y/%m/%d %H:%M:%S.%f")
            new_state = line.split("] ", 1)[1].split(" -> ", 1)[1].split()[0]
            changes.append((stamp.timestamp(), new_state))
        return changes

    def entry(self, peer: str, multihop: bool = False) -> dict[str, Any]:
        for entry in self.peers_json():
            if entry.get("peer") == peer and bool(entry.get("multihop")) == multihop:
                return entry
        raise FrrError(f"bfdd has no session with {peer}")


@dataclass
class BfdLab:
    topology: Topology
    bfdd: Bfdd
    workdir: Path
    clients: list[BfdClient] = field(default_factory=list)
    events: dict[str, list[BfdEvent]] = field(default_factory=dict)

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.topology.nodes

    def client(self, node: Node, **kwargs: object) -> BfdClient:
        """A started BFD process in `node`'s namespace; its events in self.events."""
        events = self.events.setdefault(node.netns, [])
        client = BfdClient(netns=node.netns, on_event=events.append,
                           stderr_path=self.workdir / f"{node.netns}-bfd.log",
                           **kwargs)  # type: ignore[arg-type]
        self.clients.append(client)
        return client.start()

    def link(self, node: Node, up: bool) -> None:
        """The node's cable: its veth end in the node namespace, down or up."""
        ip("-n", node.netns, "link", "set", node.interface, "up" if up else "down")


def node_specs(lab: BfdLab, node: Node, profile: Profile, *, v6: bool = False,
               multihop: bool = False) -> SessionSpec:
    """The node side of a session with the router."""
    topo = lab.topology
    return SessionSpec(
        peer=topo.router_ipv6 if v6 else topo.router_ipv4,
        local=node.ipv6 if v6 else node.ipv4, multihop=multihop,
        transmit_interval=profile.tx, receive_interval=profile.rx,
        detect_multiplier=profile.multiplier,
    )


def frr_peer(lab: BfdLab, node: Node, profile: Profile, *, v6: bool = False,
             multihop: bool = False) -> FrrPeer:
    topo = lab.topology
    return FrrPeer(node.ipv6 if v6 else node.ipv4,
                   topo.router_ipv6 if v6 else topo.router_ipv4, profile, multihop)


def require_bfd_lab() -> None:
    require_frr()
    require_program("ip", "iproute2")
    require_program(str(FRR_LIBDIR / "bfdd"), "frr")


@contextlib.contextmanager
def bfd_lab(nodes: int, peers_of: Any) -> Iterator[BfdLab]:
    """Topology with `nodes` nodes and bfdd configured with `peers_of(lab)` (a function
    of the lab, which knows the addresses); everything torn down on exit."""
    topology = Topology(nodes)
    workdir = Path(tempfile.mkdtemp(prefix=f"{topology.prefix}-bfd-"))
    workdir.chmod(0o711)
    lab: BfdLab | None = None
    try:
        topology.up()
        lab = BfdLab(topology, Bfdd(topology.router, workdir / "frr", []), workdir)
        lab.bfdd.peers = list(peers_of(lab))
        lab.bfdd.start()
        yield lab
    finally:
        try:
            if lab is not None:
                for client in lab.clients:
                    with contextlib.suppress(Exception):
                        if client.pid is not None:
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(client.pid, 18)  # SIGCONT: a frozen one must exit
                        client.stop(timeout=3.0)
                lab.bfdd.stop()
        finally:
            topology.down()
            shutil.rmtree(workdir, ignore_errors=True)


def wait_status(lab: BfdLab, peer: str, status: str, timeout: float,
                multihop: bool = False) -> float:
    """Poll FRR until the session with `peer` has `status`; the seconds it took."""
    start = time.monotonic()
    poll_until(lambda: lab.bfdd.status(peer, multihop) == status, timeout, interval=0.002,
               max_interval=0.005, what=f"bfdd session with {peer} {status}")
    return time.monotonic() - start


# -- the speaker with BFD against FRR with bfdd (tests/bgp/test_bfd_speaker.py, bench) ----


def speaker_bfd_config(profile: Profile | None, hold_time: int,
                       multihop: bool = False) -> dict[str, Any]:
    """The speaker cluster's base config with `hold-time` on both peers and, with a
    profile, a `bfd-profiles` entry of its timers that both peers use."""
    from lab.harness.speaker_cluster import BASE_CONFIG

    config = copy.deepcopy(BASE_CONFIG)
    if profile is not None:
        config["bfd-profiles"] = [{"name": profile.name, "receive-interval": profile.rx,
                                   "transmit-interval": profile.tx,
                                   "detect-multiplier": profile.multiplier}]
    for peer in config["peers"]:
        peer["hold-time"] = f"{hold_time}s"
        if profile is not None:
            peer["bfd-profile"] = profile.name
        if multihop:
            peer["ebgp-multihop"] = True
    return config


@contextlib.contextmanager
def bfd_speaker_cluster(nodes: int, profile: Profile | None, hold_time: int,
                        multihop: bool = False, timeout: float = 30.0
                        ) -> Iterator[SpeakerCluster]:
    """Speaker daemons (ExaBGP and, with a profile, BFD in the node namespaces) and FRR
    with bfdd and `neighbor ... bfd profile` (none without a profile), every node's
    IPv4 and IPv6 sessions Established."""
    from lab.harness.bgplab import ROUTER_ASN
    from lab.harness.speaker_cluster import speaker_cluster

    router = RouterConfig(asn=ROUTER_ASN, hold_time=hold_time,
                          keepalive=max(1, hold_time // 3), bfd=profile,
                          ebgp_multihop=2 if multihop else None)
    with speaker_cluster(nodes, start_speakers=False, router=router) as cluster:
        cluster.set_config(speaker_bfd_config(profile, hold_time, multihop))
        for node in cluster.lab.nodes:
            cluster.start_speaker(node)
        poll_until(lambda: len(cluster.lab.router.established()) == 2 * nodes, timeout,
                   what="every node's IPv4 and IPv6 sessions Established")
        yield cluster


def frr_bfd_status(cluster: SpeakerCluster) -> dict[tuple[str, bool], str]:
    """(node address, multihop) -> status, as the cluster router's bfdd reports it."""
    return {(e["peer"], bool(e.get("multihop"))): str(e["status"])
            for e in cluster.lab.router.bfd_peers()}  # type: ignore[union-attr]


def node_processes(cluster: SpeakerCluster, node: Node) -> list[tuple[int, bool]]:
    """(pid, whole process group) of what `node` runs besides its in-process speaker
    daemon: ExaBGP (with its API relay: one process group) and the BFD process."""
    speaker = cluster.speakers[cluster.node_name(node)]
    exabgp, bfd = speaker.driver.pid, speaker.bfd.client.pid  # type: ignore[attr-defined]
    return [(pid, group) for pid, group in ((exabgp, True), (bfd, False)) if pid is not None]


def signal_processes(processes: list[tuple[int, bool]], sig: int) -> None:
    """`sig` to each (pid, group) of `node_processes`; gone ones are skipped."""
    for pid, group in processes:
        with contextlib.suppress(ProcessLookupError):
            (os.killpg if group else os.kill)(pid, sig)
