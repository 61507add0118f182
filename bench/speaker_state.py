"""Where the speaker's bytes per Service are: its in-process state after a cold start with
N Services, traced with tracemalloc per component. No API, no ExaBGP, no root.

What a cold start builds, in the daemon's order: the informer caches (N Services and
N EndpointSlices as bench/memory.py writes them, trimmed as the informers keep them),
the full plan with its host routes sent ahead to an up session, the route book's
desired and held tables, the announced services, the `metallb_speaker_announced`
series, the status objects it wants written (the status queue holding them: at a cold
start with 100,000 Services the API takes them far slower than they come), then the
incremental planner's shares and tallies (`index`). Reports the traced growth of each
step and what is held at the end per component (by the file that allocated it) and
per line, in bytes per Service.

    python3 bench/speaker_state.py [--services 20000] [--top 30] [--json]

Tracing makes it slow (~2 min at 20,000 on a loaded machine). The figures are Python
objects only; RSS adds the allocator's slack (bench/memory.py measures RSS).
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry

from bench.report import Report, add_json_flag
from metallb.config.parse import parse_config
from metallb.keys import object_key
from metallb.kube.trim import trim_endpoint_slice, trim_service_for_speaker
from metallb.metrics import SpeakerMetrics
from speaker.announced import AnnouncedServices
from speaker.exabgp.routebook import RouteBook
from speaker.incremental import IncrementalPlanner
from speaker.node import NodeInfo
from speaker.planner import PROTOCOL
from speaker.status import SpeakerStatus

PEER = "2001:db8:ffff::1"
NODE = "node0"
POOL = "2001:db8:1::/64"

# (part of an allocating file's path, component), first match wins
COMPONENTS = (
    ("speaker/incremental", "incremental planner (shares, tallies, tables)"),
    ("speaker/planner", "planner (plan, per-address cache)"),
    ("ipaddress", "planner (per-address cache): address objects"),
    ("speaker/exabgp", "route book (desired, held)"),
    ("speaker/announced", "announced services"),
    ("metallb/metrics", "metallb_speaker_announced series"),
    ("speaker/status", "status objects wanted"),
    ("status_queue", "status queue"),
    ("metallb/kube/trim", "informer caches (trimmed objects)"),
    ("metallb/keys", "object keys"),
    ("bench/speaker_state", "informer caches (text the API sent)"),
)


def address(i: int, base: str = "2001:db8:1::") -> str:
    """The text of `base` + i + 1 as the API sends it (canonical; made here, not by
    `ipaddress`, so that the informer's text is counted as such). For i < 2**32 - 1."""
    n = i + 1
    return f"{base}{n >> 16:x}:{n & 0xffff:x}" if n >> 16 else f"{base}{n:x}"


def raw_service(i: int) -> dict[str, Any]:
    """A Service as the API sends it once the controller assigned its address."""
    name = f"svc-{i}"
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{i:032d}",
                     "resourceVersion": str(1000 + 3 * i),
                     "creationTimestamp": "2026-11-30T00:00:00Z",
                     "annotations": {"metallb.io/ip-allocated-from-pool": "bench"}},
        "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False,
                 "externalTrafficPolicy": "Cluster",
                 "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": name},
                 "ipFamilies": ["IPv6"], "ipFamilyPolicy": "SingleStack"},
        "status": {"loadBalancer": {"ingress": [{"ip": address(i)}]}, "conditions": [{
            "type": "AddressAssigned", "status": "True", "reason": "Assigned",
            "message": f"{address(i)} from pool 'bench'",
            "lastTransitionTime": "2026-11-30T00:00:00Z"}]}}


def raw_slice(i: int) -> dict[str, Any]:
    """Its EndpointSlice: one ready endpoint on this node."""
    name = f"svc-{i}"
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{name}-slice", "namespace": "default",
                     "resourceVersion": str(1001 + 3 * i),
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv6", "ports": [{"port": 80, "protocol": "TCP"}],
        "endpoints": [{"addresses": [address(i, "fd00::")], "nodeName": NODE,
                       "conditions": {"ready": True}}]}


class UnwrittenStatus(SpeakerStatus):
    """The status objects wanted, never written: the queue's thread waits on its first
    entry until `release`, as behind an API that is slow to take them."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        super().__init__(None, "metallb-system", NODE)  # type: ignore[arg-type]

    def _write(self, key: Any, desired: Any) -> None:
        self.gate.wait()

    def release(self) -> None:
        self.gate.set()
        self.stop(1.0)


def component(filename: str) -> str:
    return next((name for part, name in COMPONENTS if part in filename), "other")


def measure(n: int, top: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]],
                                       list[tuple[str, float, float]]]:
    """(growth per step, held per component, held per line), bytes per Service."""
    config = parse_config({
        "peers": [{"peer-address": PEER, "peer-asn": 64500, "my-asn": 64501}],
        "address-pools": [{"name": "bench", "protocol": "bgp", "addresses": [POOL]}]})
    node = NodeInfo(NODE)
    own = tracemalloc.Filter(False, tracemalloc.__file__)
    UnwrittenStatus().release()  # what it imports on first use is not the state's
    tracemalloc.start()
    snapshots: list[tuple[str, tracemalloc.Snapshot]] = []

    def step(name: str) -> None:
        gc.collect()
        snapshots.append((name, tracemalloc.take_snapshot().filter_traces([own])))

    step("start")
    services, slices = {}, {}
    for i in range(n):
        obj = trim_service_for_speaker(raw_service(i))
        services[object_key(obj)] = obj
        obj = trim_endpoint_slice(raw_slice(i))
        slices[object_key(obj)] = obj
    step("informer caches")
    planner, book, up = IncrementalPlanner(), RouteBook(), [PEER]
    planner.full(config, node, services.values(), slices.values(),
                 ahead=lambda routes: book.ahead(routes, set(up)))
    step("full plan, host routes sent ahead")
    result = planner.current
    assert result is not None
    book.set_desired({peer: dict(table) for peer, table in result.routes.items()}, up)
    step("route book: the whole plan")
    announced = AnnouncedServices()
    change = announced.replace(result.announced)
    step("announced services")
    metrics = SpeakerMetrics(CollectorRegistry())
    metrics.change_pairs(PROTOCOL, NODE, change.added, change.removed)
    step("metallb_speaker_announced")
    status = UnwrittenStatus()
    status.plan(result)
    step("status objects wanted")
    del result, change
    planner.index()
    step("incremental planner: index")
    try:
        steps = [(name, sum(s.size_diff for s in snap.compare_to(prev, "filename")) / n)
                 for (name, snap), (_, prev) in zip(snapshots[1:], snapshots, strict=False)]
        lines = snapshots[-1][1].compare_to(snapshots[0][1], "lineno")
        held: dict[str, int] = defaultdict(int)
        for stat in lines:
            held[component(stat.traceback[0].filename)] += stat.size_diff
        per_component = sorted(((name, size / n) for name, size in held.items()),
                               key=lambda row: -row[1])
        per_line = [(f"{_short(stat.traceback[0].filename)}:{stat.traceback[0].lineno}",
                     stat.size_diff / n, stat.count_diff / n)
                    for stat in sorted(lines, key=lambda s: -s.size_diff)[:top]]
        return steps, per_component, per_line
    finally:
        status.release()
        tracemalloc.stop()


def _short(filename: str) -> str:
    """Relative to the checkout; a library's file by its name."""
    root = str(Path(__file__).resolve().parents[1]) + "/"
    if filename.startswith(root):
        return filename.removeprefix(root)
    return filename.rsplit("site-packages/", 1)[-1] if "site-packages/" in filename \
        else Path(filename).name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=20000)
    parser.add_argument("--top", type=int, default=30, help="lines listed (default: 30)")
    add_json_flag(parser)
    args = parser.parse_args()
    report = Report("speaker_state", args)
    steps, per_component, per_line = measure(args.services, args.top)
    n = args.services
    total = sum(size for _, size in per_component)
    report.table("steps", ("step", "traced growth, B per Service"),
                 [(name, f"{size:.0f}") for name, size in steps],
                 title=f"{n} Services: traced growth per step of a cold start")
    report.table("components", ("component", "held, B per Service"),
                 [(name, f"{size:.0f}") for name, size in per_component if abs(size) >= 1]
                 + [("total", f"{total:.0f} ({total * n / 2**20:.1f} MiB)")],
                 title="held at the end, by the file that allocated it")
    report.table("lines", ("line", "B per Service", "objects per Service"),
                 [(line, f"{size:.0f}", f"{count:.2f}") for line, size, count in per_line],
                 title=f"the {args.top} lines holding most")
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
