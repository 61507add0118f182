"""`metallb lab demo`: the project end to end, for real, step by step.

The lab comes up (FRR router, nodes, API emulator, controller, speakers, Prometheus);
the seed's two example services get addresses from pool1 and pool2; the router learns
each as one route with a next hop per node and installs it with ECMP; requests from the
router namespace are answered by different nodes; Prometheus shows the sessions and the
pool usage. Then the lab goes down again (unless --keep).
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Callable
from typing import Any

from lab import prometheus
from lab.cluster import UpOptions, down, up
from lab.errors import LabError
from lab.running import RunningLab
from metallb.wait import WaitTimeout, poll_until

STEPS = 7
# The seed's examples: one service from the default (auto-assign) pools, one asking for
# pool2 through the annotation, as in the Lokomotive documentation's nginx example.
SERVICES: tuple[tuple[str, str | None], ...] = (("web", None), ("nginx", "pool2"))
REQUESTS = 30


def run(options: UpOptions, keep: bool = False, out: Callable[[str], None] = print) -> int:
    step = _Steps(out)
    routers = ("two provider routers (Packet topology)" if options.topology == "packet"
               else "router")
    step(f"Starting the lab: {options.router} {routers}, {options.nodes} nodes, API "
         "emulator, controller, speakers" + (" (from the image, under podman)" if options.containers
                                         else "") + ", Prometheus")
    state = up(options, progress=lambda line: out(f"      {line}"))
    try:
        with RunningLab(state) as lab:
            _show(lab, options, step, out)
    except BaseException as err:
        if keep:
            out(f"the demo failed; the lab is left running (--keep): "
                f"`metallb lab down --state-dir {state.state_dir}`")
        else:
            down(state.state_dir, state.prefix)
        if isinstance(err, WaitTimeout):
            raise LabError(str(err)) from None
        raise
    step("Keeping the lab running (--keep)" if keep else "Taking the lab down")
    if keep:
        out(f"      status: python3 -m metallb lab status --state-dir {state.state_dir}")
        out(f"      kubectl --kubeconfig {state.kubeconfig} get services -A")
        out(f"      take it down: python3 -m metallb lab down --state-dir {state.state_dir}")
    else:
        for line in down(state.state_dir, state.prefix):
            out(f"      {line}")
        out("      the lab is down")
    return 0


class _Steps:
    def __init__(self, out: Callable[[str], None]):
        self.out = out
        self.n = 0

    def __call__(self, title: str) -> None:
        self.n += 1
        self.out(f"[{self.n}/{STEPS}] {title}")


def _pools(options: UpOptions) -> list[tuple[str, list[ipaddress.IPv4Network |
                                                   ipaddress.IPv6Network]]]:
    from lab.cluster import DEFAULT_CONFIG
    from metallb.component.render import load_settings

    settings = load_settings(options.config or str(DEFAULT_CONFIG))
    return [(name, [ipaddress.ip_network(c, strict=False) for c in cidrs])
            for name, cidrs in settings.address_pools]


def _pool_of(address: str, pools: list[tuple[str, list[Any]]]) -> str:
    ip = ipaddress.ip_address(address)
    return next((name for name, nets in pools if any(ip in n for n in nets)), "?")


def _show(lab: RunningLab, options: UpOptions, step: _Steps,
          out: Callable[[str], None]) -> None:
    wait = options.timeout
    step("Creating the example services (web: default pools; nginx: "
         "metallb.universe.tf/address-pool: pool2) and EndpointSlices ready on every node")
    for name, pool in SERVICES:
        lab.create_service(name, pool)
        out(f"      created service default/{name}"
            + (f" (address-pool {pool})" if pool else ""))

    step("Addresses assigned by the controller")
    pools = _pools(options)
    addresses: dict[str, str] = {}
    for name, _pool in SERVICES:
        found = _wait(lambda n=name: lab.service_addresses(n), wait,
                      f"an address for service default/{name}",
                      lambda n=name: lab.events_of(n))
        addresses[name] = found[0]
        out(f"      service default/{name}: {found[0]} (pool {_pool_of(found[0], pools)})")

    step("The router's routes: one path per node, installed with ECMP")
    nodes = lab.node_addresses
    for name, address in addresses.items():
        for router in lab.routers:
            _show_router_route(lab, router, name, address, nodes, wait, out)
        out(f"      {address}/32 kernel next hops: {' '.join(lab.kernel_nexthops(address))}")

    step(f"Requests from the router namespace: {REQUESTS} connections per service, "
         "answered by the nodes' responders")
    for address in addresses.values():
        lab.start_responders(address)
    _wait(lab.responders_listening, wait, "the responders to listen")
    for name, address in addresses.items():
        for i, router in enumerate(lab.routers):
            answers = lab.probe(address, REQUESTS, netns=router.netns)
            through = f" through {router.netns}" if len(lab.routers) > 1 else ""
            out(f"      http://{address}/ ({name}){through}: " + ", ".join(
                f"{who} answered {count}" for who, count in sorted(answers.items())))
            answered_by = sorted(w for w in answers if not w.startswith("error"))
            if i == 0:
                out(f"      {name} answered by {len(answered_by)} different nodes: "
                    f"{' '.join(answered_by)}")

    step(f"Metrics in Prometheus ({lab.state.prometheus_url})")
    url = lab.state.prometheus_url
    if url is None:
        raise LabError("the demo needs Prometheus, but the lab runs none")
    sessions = _wait(lambda: _all_sessions_up(url, len(nodes)), wait,
                     "metallb_bgp_session_up == 1 for every speaker in Prometheus",
                     lambda: prometheus.query(url, "metallb_bgp_session_up"))
    for labels, value in sessions:
        out(f"      metallb_bgp_session_up{{node=\"{labels.get('node')}\",peer=\""
            f"{labels.get('peer')}\"}} {value:g}")
    in_use = _wait(lambda: _pools_in_use(url, len(addresses)), wait,
                   "metallb_allocator_addresses_in_use_total for the services' addresses",
                   lambda: prometheus.query(url, "metallb_allocator_addresses_in_use_total"))
    for labels, value in in_use:
        out(f"      metallb_allocator_addresses_in_use_total{{pool=\"{labels.get('pool')}\"}}"
            f" {value:g}")


def _show_router_route(lab: RunningLab, router: Any, name: str, address: str,
                       nodes: list[str], wait: float, out: Callable[[str], None]) -> None:
    """One router's own view of the service's route, and its kernel table's."""
    prefix = f"{address}/32"

    def installed() -> list[str]:
        return list(router.kernel_nexthops(prefix) if router.installs_kernel
                    else router.path_nexthops(prefix))

    _wait(lambda: installed() == nodes, wait,
          f"{prefix} with next hops {nodes} at {router.kind} in {router.netns}", installed)
    if router.kind == "frr":
        data = router.frr.vtysh_json(f"show ip route {prefix} json")
        route = (data.get(prefix) or [{}])[0]
        hops = [h.get("ip") for h in route.get("nexthops", []) if h.get("active")]
        out(f"      {name} {prefix} in FRR in {router.netns} (vtysh 'show ip route "
            f"{prefix}'): protocol {route.get('protocol')}, installed "
            f"{route.get('installed', False)}, active next hops: {' '.join(sorted(hops))}")
    else:
        paths = router.paths(prefix)
        out(f"      {name} {prefix} in {router.kind} in {router.netns} "
            f"({router.query_commands()['routes']}): {len(paths)} paths, next hops "
            f"{' '.join(sorted(p.next_hop for p in paths))}")
    if not router.installs_kernel:
        out(f"      {router.kind} installs no kernel route: it forwards nothing itself")
        return
    kernel = subprocess.run(["ip", "-n", router.netns, "route", "show", prefix],
                            capture_output=True, text=True, check=False).stdout.rstrip()
    out(f"      kernel table of {router.netns} (ip route show {prefix}):")
    out("\n".join(f"        {line}" for line in kernel.splitlines()))


def _all_sessions_up(url: str, nodes: int) -> list[tuple[dict[str, str], float]]:
    series = prometheus.query(url, "metallb_bgp_session_up")
    up_nodes = {labels.get("node") for labels, value in series if value == 1}
    return sorted(series, key=lambda s: s[0].get("node", "")) if len(up_nodes) >= nodes \
        else []


def _pools_in_use(url: str, addresses: int) -> list[tuple[dict[str, str], float]]:
    series = prometheus.query(url, "metallb_allocator_addresses_in_use_total")
    total = sum(value for _labels, value in series)
    return sorted(series, key=lambda s: s[0].get("pool", "")) if total >= addresses else []


def _wait(condition: Callable[[], Any], timeout: float, what: str,
          last_seen: Callable[[], Any] | None = None) -> Any:
    """poll_until, and on timeout say what was seen last (events, next hops, series)."""
    try:
        return poll_until(condition, timeout, what=what)
    except WaitTimeout as err:
        detail = ""
        if last_seen is not None:
            try:
                detail = f"; last seen: {last_seen()}"
            except Exception as exc:  # the detail is a courtesy; keep the real error
                detail = f"; (could not read more: {exc})"
        raise LabError(f"timed out after {timeout:.0f}s waiting for {what}{detail}") from err
