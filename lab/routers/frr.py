"""FRR as an upstream router of the neutral interface (a thin view over lab.frr)."""

from __future__ import annotations

from pathlib import Path

from lab.frr import FrrError, FrrRouter, RouterConfig
from lab.routers.base import BfdSession, RoutePath, RouterError, RouterQueries, RouterSpec


def frr_config(spec: RouterSpec) -> RouterConfig:
    return RouterConfig(asn=spec.asn, router_id=spec.router_id, listen_v4=spec.listen_v4,
                        listen_v6=spec.listen_v6, remote_as=spec.remote_as,
                        password=spec.password, maximum_paths=spec.maximum_paths,
                        hold_time=spec.hold_time, keepalive=spec.keepalive,
                        ebgp_multihop=spec.ebgp_multihop, bfd=spec.bfd)


class FrrUpstream(RouterQueries):
    """zebra + bgpd (lab.frr.FrrRouter); bgpd's multipath selection is installed by
    zebra into the namespace's kernel table as one ECMP route. State as FrrRouter's."""

    kind = "frr"
    installs_kernel = True

    def __init__(self, netns: str, spec: RouterSpec, state_dir: str | Path):
        self.netns = netns
        self.spec = spec
        self.state_dir = Path(state_dir)
        self.frr = FrrRouter(netns, frr_config(spec), state_dir=state_dir)

    def start(self, timeout: float = 10.0) -> FrrUpstream:
        try:
            self.frr.start(timeout)
        except FrrError as err:
            raise RouterError(str(err)) from None
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.frr.stop(timeout)

    def restart(self, timeout: float = 10.0) -> FrrUpstream:
        self.stop(timeout)
        return self.start(timeout)

    def cleanup(self) -> None:
        self.stop()

    def pids(self) -> dict[str, int]:
        return self.frr.pids()

    def sessions(self) -> dict[str, str]:
        return {peer: str(e.get("state")) for peer, e in self.frr.bgp_summary().items()}

    def bfd_sessions(self) -> list[BfdSession]:
        out = []
        for e in self.frr.bfd_peers():
            mult, rx = e.get("remote-detect-multiplier"), e.get("remote-transmit-interval")
            local_rx = e.get("receive-interval")
            out.append(BfdSession(
                peer=str(e.get("peer")), local=str(e.get("local", "")),
                multihop=bool(e.get("multihop")), status=str(e.get("status")),
                diagnostic=str(e.get("diagnostic", "")),
                remote_diagnostic=str(e.get("remote-diagnostic", "")),
                detect_ms=int(mult) * max(int(rx), int(local_rx))
                if mult and rx and local_rx else None))
        return out

    def paths(self, prefix: str) -> list[RoutePath]:
        out = []
        for path in self.frr.routes(prefix):
            hops = path.get("nexthops") or [{}]
            aspath = str(path.get("aspath", {}).get("string", "")).split()
            community = str(path.get("community", {}).get("string", "")).split()
            out.append(RoutePath(
                prefix=prefix, next_hop=str(hops[0].get("ip", "")),
                peer=str(path.get("peer", {}).get("peerId", "")),
                as_path=tuple(int(a) for a in aspath if a.isdigit()),
                communities=tuple(community), local_pref=path.get("locPrf")))
        return out

    def prefixes_received(self, family: str = "ipv4") -> int:
        return self.frr.prefixes_received(family)

    def query_commands(self) -> dict[str, str]:
        sock = f"vtysh --vty_socket {self.state_dir}"
        return {"sessions": f"{sock} -c 'show bgp summary json'",
                "routes": f"{sock} -c 'show bgp ipv4 unicast json'",
                "kernel": f"ip -n {self.netns} route show proto bgp"}
