"""The BGP lab for interop tests and benches: a router namespace running FRR (or BIRD /
GoBGP, see lab.routers) and node namespaces each running one ExaBGPDriver (ExaBGP inside
the node namespace).

Everything is torn down in `finally` blocks: drivers (ExaBGP stopped by PID), FRR
(stopped by PID from its pidfiles), then the namespaces, also when a test fails.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from lab.frr import FrrRouter, RouterConfig
from lab.harness.requires import require_bgp_lab
from lab.netns import Node, Topology, add_netns, delete_netns, ip
from lab.routers.base import RouterSpec, UpstreamRouter
from lab.routers.kinds import make_router, require_router
from speaker.bgp import DriverEvent, PeerSpec
from speaker.exabgp.driver import ExaBGPDriver

ROUTER_ASN = 64512
NODE_ASN = 64513
TEST_HOLD_TIME = 3


@dataclass
class BgpLab:
    topology: Topology
    router: FrrRouter | UpstreamRouter
    workdir: Path
    drivers: list[ExaBGPDriver] = field(default_factory=list)
    events: dict[str, list[DriverEvent]] = field(default_factory=dict)

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.topology.nodes

    def peer_v4(self, node: Node, asn: int = NODE_ASN, password: str | None = None) -> PeerSpec:
        """The session from `node` to the router over IPv4."""
        return PeerSpec(self.topology.router_ipv4, ROUTER_ASN, asn, node.ipv4, node.ipv4,
                        hold_time=TEST_HOLD_TIME, password=password)

    def peer_v6(self, node: Node, asn: int = NODE_ASN, password: str | None = None) -> PeerSpec:
        """The session from `node` to the router over IPv6 (IPv6 unicast)."""
        return PeerSpec(self.topology.router_ipv6, ROUTER_ASN, asn, node.ipv6, node.ipv4,
                        hold_time=TEST_HOLD_TIME, password=password)

    def driver(self, node: Node, **kwargs: object) -> ExaBGPDriver:
        """An unstarted driver for `node` (ExaBGP will run in the node's namespace); it
        records its events in `self.events[node.netns]` and is stopped at teardown."""
        events = self.events.setdefault(node.netns, [])
        state_dir = self.workdir / node.netns
        drv = ExaBGPDriver(state_dir, [node.ipv4, node.ipv6], netns=node.netns,
                           on_event=events.append, **kwargs)  # type: ignore[arg-type]
        self.drivers.append(drv)
        return drv

    def start_drivers(self, nodes: tuple[Node, ...] | None = None,
                      **kwargs: object) -> list[ExaBGPDriver]:
        """Start one driver per node in parallel (ExaBGP takes ~0.6 s to start)."""
        drivers = [self.driver(n, **kwargs) for n in (nodes or self.nodes)]
        errors: list[BaseException] = []

        def start(d: ExaBGPDriver) -> None:
            try:
                d.start()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(d,)) for d in drivers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return drivers

    def nexthops(self, prefix: str) -> list[str]:
        """What the router forwards by: the router namespace's kernel table (FRR, BIRD),
        or for a router that installs none (GoBGP) the next hops of its RIB's paths."""
        if getattr(self.router, "installs_kernel", True):
            return self.router.kernel_nexthops(prefix)
        return self.router.path_nexthops(prefix)


@contextlib.contextmanager
def bgp_lab(nodes: int = 3, router: RouterConfig | None = None, kind: str | None = None,
            spec: RouterSpec | None = None) -> Iterator[BgpLab]:
    """Build the topology and start FRR (`router`), or with `kind` the router of that
    kind (`spec`); tear everything down on exit, also on failure.
    Raises `requires.Missing` (a skip in tests) without root, the router or ip."""
    require_bgp_lab()
    if kind is not None:
        require_router(kind)
    topology = Topology(nodes)
    workdir = Path(tempfile.mkdtemp(prefix=f"{topology.prefix}-"))
    workdir.chmod(0o711)  # FRR's daemons run as user frr and must reach workdir/frr
    lab: BgpLab | None = None
    try:
        topology.up()
        upstream: FrrRouter | UpstreamRouter
        if kind is None:
            upstream = FrrRouter(topology.router, router or RouterConfig(asn=ROUTER_ASN),
                                 state_dir=workdir / "frr")
        else:
            nodes_at = tuple(a for n in topology.nodes for a in (n.ipv4, n.ipv6))
            spec = replace(spec or RouterSpec(asn=ROUTER_ASN), neighbors=nodes_at)
            upstream = make_router(kind, topology.router, spec, workdir / kind)
        lab = BgpLab(topology, upstream, workdir)
        upstream.start()
        yield lab
    finally:
        try:
            if lab is not None:
                for drv in lab.drivers:
                    with contextlib.suppress(Exception):
                        drv.stop(withdraw=False, timeout=3.0)
                lab.router.stop()
        finally:
            topology.down()
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def extra_router(lab: BgpLab, name: str, config: RouterConfig,
                 wire: Callable[[str], None]) -> Iterator[FrrRouter]:
    """Another FRR in a namespace of its own (`<prefix><name>`, so the lab's teardown
    finds a crashed run's leftovers); `wire(netns)` links it to the lab before FRR
    starts. FRR (by PID) and the namespace are removed on exit, also on failure."""
    netns = f"{lab.topology.prefix}{name}"
    router = None
    try:
        add_netns(netns)
        wire(netns)
        router = FrrRouter(netns, config, state_dir=lab.workdir / f"frr-{name}")
        router.start()
        yield router
    finally:
        if router is not None:
            router.stop()
        delete_netns(netns)


@contextlib.contextmanager
def segment_router(lab: BgpLab, name: str, address: str,
                   config: RouterConfig) -> Iterator[FrrRouter]:
    """Another FRR on the nodes' segment (the lab router's bridge) at IPv4 `address`, in
    a namespace of its own (see `extra_router`)."""
    middle = lab.topology.router

    def wire(netns: str) -> None:
        ip("-n", middle, "link", "add", f"p{name}", "type", "veth", "peer", "name", "eth0",
           "netns", netns)
        ip("-n", middle, "link", "set", f"p{name}", "master", "br0", "up")
        ip("-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", netns, "link", "set", "eth0", "up")

    with extra_router(lab, name, config, wire) as router:
        yield router
