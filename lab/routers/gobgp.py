"""GoBGP as an upstream router: dynamic neighbors for every node of the link, all
equal paths kept as multipath in its RIB (`use-multiple-paths`). With an MD5 password
it peers with the listed nodes instead: GoBGP sets no password on a dynamic-neighbor
range, so sessions from such a range never come up.

What it installs: GoBGP has no kernel programming of its own; it could only feed FRR's
zebra over zserv, which the lab does not wire up. So GoBGP runs RIB-only here:
`installs_kernel` is False and the tests read its RIB (`gobgp global rib -j`), where every
node's path is present (one marked best, the others multipath candidates).
Its gRPC API listens on 127.0.0.1 inside the router namespace, so `gobgp` runs there too.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

from lab.routers.base import PidfileDaemon, RoutePath, RouterError, RouterSpec
from metallb.logs import log_event
from metallb.wait import poll_until

log = logging.getLogger(__name__)

GOBGPD = "gobgpd"
GOBGP = "gobgp"
API = "127.0.0.1:50051"
# GoBGP's session states (`gobgp neighbor -j` prints the enum number) -> FRR's spelling
STATES = {"1": "Idle", "2": "Connect", "3": "Active", "4": "OpenSent", "5": "OpenConfirm",
          "6": "Established"}


def render(spec: RouterSpec) -> str:
    """gobgpd.toml for `spec`: one peer group per family, each a dynamic-neighbor range."""
    lines = [
        "[global.config]",
        f"  as = {spec.asn}",
        f'  router-id = "{spec.router_id}"',
        "[global.use-multiple-paths.config]",
        "  enabled = true",
    ]
    for subnet, version in spec.ranges():
        group = f"nodes{version}"
        family = f"ipv{version}-unicast"
        lines += [
            "[[peer-groups]]",
            "  [peer-groups.config]",
            f'    peer-group-name = "{group}"',
            f"    peer-as = {spec.peer_asn()}",
        ]
        if spec.password:
            lines.append(f'    auth-password = "{spec.password}"')
        lines += [
            "  [peer-groups.timers.config]",
            f"    hold-time = {spec.hold_time}",
            f"    keepalive-interval = {spec.keepalive}",
            "    connect-retry = 1",
            "  [peer-groups.transport.config]",
            "    passive-mode = true",
        ]
        if spec.ebgp_multihop:
            lines += ["  [peer-groups.ebgp-multihop.config]", "    enabled = true",
                      f"    multihop-ttl = {spec.ebgp_multihop}"]
        lines += [
            "  [[peer-groups.afi-safis]]",
            "    [peer-groups.afi-safis.config]",
            f'      afi-safi-name = "{family}"',
        ]
        static = [a for a in spec.neighbors if ipaddress.ip_address(a) in
                  ipaddress.ip_network(subnet)] if spec.password else []
        if spec.password and not static:
            raise ValueError("GoBGP takes no MD5 password on a dynamic-neighbor range: "
                             f"give the nodes' addresses of {subnet} as neighbors")
        for address in static:  # passive, with the password set on their sockets
            lines += ["[[neighbors]]", "  [neighbors.config]",
                      f'    neighbor-address = "{address}"', f'    peer-group = "{group}"']
        if not static:
            lines += ["[[dynamic-neighbors]]", "  [dynamic-neighbors.config]",
                      f'    prefix = "{subnet}"', f'    peer-group = "{group}"']
    return "\n".join(lines) + "\n"


class GobgpRouter(PidfileDaemon):
    """One gobgpd in `netns` (started detached, stopped by PID), state in `state_dir`.
    Called from one thread at a time; holds no lock."""

    kind = "gobgp"
    daemon = "gobgpd"
    installs_kernel = False

    def __init__(self, netns: str, spec: RouterSpec, state_dir: str | Path):
        self.netns = netns
        self.spec = spec
        self.state_dir = Path(state_dir)
        self.conf = self.state_dir / "gobgpd.toml"
        self.pidfile = self.state_dir / "gobgpd.pid"
        self.logfile = self.state_dir / "gobgpd.log"

    def start(self, timeout: float = 10.0) -> GobgpRouter:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(render(self.spec))
        cmd = ["ip", "netns", "exec", self.netns, GOBGPD, "-f", str(self.conf), "-t", "toml",
               "--api-hosts", API, "--pprof-disable", "-l", "info"]
        with open(self.logfile, "ab") as log_file:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.pidfile.write_text(f"{proc.pid}\n")
        try:
            poll_until(lambda: self._gobgp_raw("global").returncode == 0 or proc.poll()
                       is not None, timeout, what=f"gobgpd API in {self.netns}")
        except BaseException:
            self.stop()
            raise
        if proc.poll() is not None:
            self.pidfile.unlink()
            raise RouterError(f"gobgpd in {self.netns} exited (rc={proc.returncode}); "
                              f"log: {self.logfile}")
        log_event(log, "info", "gobgp_started", netns=self.netns, asn=self.spec.asn,
                  pid=proc.pid)
        return self

    # -- queries ---------------------------------------------------------------------
    def _gobgp_raw(self, *args: str) -> subprocess.CompletedProcess[str]:
        host, port = API.rsplit(":", 1)
        return subprocess.run(["ip", "netns", "exec", self.netns, GOBGP, "-u", host,
                               "-p", port, *args], capture_output=True, text=True,
                              check=False, timeout=30)

    def gobgp_json(self, *args: str) -> Any:
        """`gobgp ARGS -j` inside the namespace, decoded; RouterError on failure."""
        proc = self._gobgp_raw(*args, "-j")
        if proc.returncode != 0:
            raise RouterError(f"gobgp {' '.join(args)} on {self.netns} failed: "
                              f"{(proc.stderr or proc.stdout).strip()}")
        text = proc.stdout.strip()
        return json.loads(text) if text and text != "null" else None

    def _neighbors(self) -> list[dict[str, Any]]:
        return self.gobgp_json("neighbor") or []

    def sessions(self) -> dict[str, str]:
        return parse_sessions(self._neighbors())

    def paths(self, prefix: str) -> list[RoutePath]:
        family = "ipv6" if ipaddress.ip_network(prefix).version == 6 else "ipv4"
        return parse_rib(self.gobgp_json("global", "rib", "-a", family, prefix) or {}, prefix)

    def rib(self, family: str = "ipv4") -> dict[str, list[str]]:
        """Every prefix of the RIB -> sorted next hops of its paths (what GoBGP would
        forward by, having no kernel table)."""
        table = self.gobgp_json("global", "rib", "-a", family) or {}
        return {prefix: sorted(p.next_hop for p in parse_rib(table, prefix))
                for prefix in table}

    def prefixes_received(self, family: str = "ipv4") -> int:
        total = 0
        for neighbor in self._neighbors():
            for afi in neighbor.get("afi_safis") or []:
                name = afi.get("config", {}).get("family", {})
                afi_name = {1: "ipv4", 2: "ipv6"}.get(name.get("afi"))
                if afi_name == family:
                    total += int(afi.get("state", {}).get("received", 0) or 0)
        return total

    def query_commands(self) -> dict[str, str]:
        base = f"ip netns exec {self.netns} gobgp"
        return {"sessions": f"{base} neighbor -j", "routes": f"{base} global rib -j",
                "kernel": "none: GoBGP keeps routes in its RIB only"}


def parse_sessions(neighbors: list[dict[str, Any]]) -> dict[str, str]:
    """`gobgp neighbor -j` -> neighbor address -> state (FRR's spelling)."""
    out = {}
    for n in neighbors:
        address = n.get("state", {}).get("neighbor_address") or n.get("conf", {}).get(
            "neighbor_address", "")
        state = str(n.get("state", {}).get("session_state", ""))
        out[address] = STATES.get(state, state or "Idle")
    return out


def parse_rib(rib: dict[str, list[dict[str, Any]]], prefix: str) -> list[RoutePath]:
    """`gobgp global rib -a FAMILY PREFIX -j` -> one RoutePath per path of `prefix`."""
    out = []
    for dst, paths in rib.items():
        if dst != prefix:
            continue
        for path in paths:
            attrs = {a.get("type"): a for a in path.get("attrs", [])}
            next_hop = attrs.get(3, {}).get("nexthop") or attrs.get(14, {}).get("nexthop", "")
            as_path = [asn for seg in attrs.get(2, {}).get("as_paths", [])
                       for asn in seg.get("asns", [])]
            communities = tuple(f"{c >> 16}:{c & 0xFFFF}"
                                for c in attrs.get(8, {}).get("communities", []))
            local_pref = attrs.get(5, {}).get("value")
            out.append(RoutePath(prefix=prefix, next_hop=str(next_hop),
                                 peer=str(path.get("neighbor-ip", "")),
                                 as_path=tuple(as_path), communities=communities,
                                 local_pref=local_pref))
    return out
