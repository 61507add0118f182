"""BIRD 2 as an upstream router: dynamic BGP (`neighbor range`) for every node of the
link, all equal paths merged into one ECMP route of the kernel table (`merge paths`).

BIRD has no JSON output: `birdc show protocols` and `birdc show route ... all` are parsed
here, and only here. Each instance has its own control socket, pidfile and log under its
state directory, so several BIRDs (also of concurrent runs) coexist on one machine.
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.routers.base import PidfileDaemon, RoutePath, RouterError, RouterSpec
from metallb.logs import log_event
from metallb.wait import poll_until

log = logging.getLogger(__name__)

BIRD = "bird"
BIRDC = "birdc"
KERNEL_METRIC = 20  # so `ip route` shows BIRD's routes apart from connected ones


def render(spec: RouterSpec) -> str:
    """bird.conf for `spec`."""
    lines = [
        f"router id {spec.router_id};",
        "protocol device { scan time 1; }",
    ]
    if spec.ebgp_multihop:  # next hops resolve recursively over the connected routes
        lines += ["protocol direct {"] + [f"  ipv{v};" for _r, v in spec.ranges()] + ["}"]
    for version in sorted({v for _r, v in spec.ranges()}):
        lines += [
            f"protocol kernel kernel{version} {{",
            f"  ipv{version} {{ import none; export where source = RTS_BGP; }};",
            f"  merge paths on limit {spec.maximum_paths};",
            f"  metric {KERNEL_METRIC};",
            "  scan time 1;",
            "}",
        ]
    kind = "internal" if spec.remote_as == "internal" else (
        "external" if spec.remote_as == "external" else f"as {spec.remote_as}")
    for subnet, version in spec.ranges():
        lines += [
            f"protocol bgp nodes{version} {{",
            f"  local as {spec.asn};",
            f"  neighbor range {subnet} {kind};",
            f"  hold time {spec.hold_time};",
            f"  keepalive time {spec.keepalive};",
            "  connect retry time 1;",
            "  error wait time 1, 2;",
            f"  dynamic name \"node{version}_\";",
        ]
        if spec.password:
            lines.append(f"  password \"{spec.password}\";")
        # iBGP is multihop in BIRD unless told the nodes are on the link
        lines.append(f"  multihop {spec.ebgp_multihop};" if spec.ebgp_multihop
                     else "  direct;")
        lines += [
            f"  ipv{version} {{",
            "    import all;",
            "    export none;",
            "    gateway direct;" if not spec.ebgp_multihop else "    gateway recursive;",
            "  };",
            "}",
        ]
    return "\n".join(lines) + "\n"


class BirdRouter(PidfileDaemon):
    """One `bird` daemon in `netns`, configured from `spec`, state in `state_dir`.

    BIRD installs the merged ECMP route into the namespace's kernel table itself (no
    zebra). Called from one thread at a time; holds no lock.
    """

    kind = "bird"
    daemon = "bird"
    installs_kernel = True

    def __init__(self, netns: str, spec: RouterSpec, state_dir: str | Path):
        self.netns = netns
        self.spec = spec
        self.state_dir = Path(state_dir)
        self.socket = self.state_dir / "bird.ctl"
        self.pidfile = self.state_dir / "bird.pid"
        self.conf = self.state_dir / "bird.conf"
        self.logfile = self.state_dir / "bird.log"

    def start(self, timeout: float = 10.0) -> BirdRouter:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(f'log "{self.logfile}" all;\n' + render(self.spec))
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        cmd = ["ip", "netns", "exec", self.netns, BIRD, "-c", str(self.conf),
               "-s", str(self.socket), "-P", str(self.pidfile)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              timeout=timeout)
        if proc.returncode != 0:
            raise RouterError(f"bird in {self.netns} failed to start (rc={proc.returncode}): "
                              f"{(proc.stderr or proc.stdout).strip()}; log: {self.logfile}")
        try:
            poll_until(lambda: self._pid() and self._birdc_raw("show status").returncode == 0,
                       timeout, what=f"bird control socket in {self.netns}")
        except BaseException:
            self.stop()
            raise
        log_event(log, "info", "bird_started", netns=self.netns, asn=self.spec.asn)
        return self

    # -- queries ---------------------------------------------------------------------
    def _birdc_raw(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([BIRDC, "-s", str(self.socket), *command.split()],
                              capture_output=True, text=True, check=False, timeout=30)

    def birdc(self, command: str) -> str:
        """One birdc command; RouterError when BIRD does not answer."""
        proc = self._birdc_raw(command)
        if "Network not found" in proc.stdout:  # `show route for` a prefix BIRD lacks
            return ""
        if proc.returncode != 0 or "Unable to connect" in proc.stdout:
            raise RouterError(f"birdc {command!r} on {self.netns} failed: "
                              f"{(proc.stderr or proc.stdout).strip()}")
        return proc.stdout

    def sessions(self) -> dict[str, str]:
        return {p.neighbor: p.state for p in self._protocols()}

    def _protocols(self) -> list[BirdProtocol]:
        return parse_protocols(self.birdc("show protocols all"))

    def paths(self, prefix: str) -> list[RoutePath]:
        peers = {p.name: p.neighbor for p in self._protocols()}
        return parse_routes(self.birdc(f"show route for {prefix} all"), prefix, peers)

    def prefixes_received(self, family: str = "ipv4") -> int:
        return sum(p.imported.get(family, 0) for p in self._protocols())

    def query_commands(self) -> dict[str, str]:
        return {"sessions": f"birdc -s {self.socket} show protocols all",
                "routes": f"birdc -s {self.socket} show route all",
                "kernel": f"ip -n {self.netns} route show proto bird"}


@dataclass(frozen=True)
class BirdProtocol:
    """One session BIRD spawned from a neighbor range (`show protocols all`)."""

    name: str
    state: str  # the BGP state: Established, Active, Connect, ...
    neighbor: str
    imported: dict[str, int]  # "ipv4" / "ipv6" -> routes imported over this session


_PROTOCOL = re.compile(r"^(\S+)\s+BGP\s+")
_BGP_STATE = re.compile(r"^\s+BGP state:\s+(\S+)")
_NEIGHBOR = re.compile(r"^\s+Neighbor address:\s+(\S+)")
_CHANNEL = re.compile(r"^\s+Channel (ipv[46])")
_IMPORTED = re.compile(r"^\s+Routes:\s+(\d+) imported")


def parse_protocols(text: str) -> list[BirdProtocol]:
    """`show protocols all` -> the spawned BGP sessions (the templates that only listen on
    a range have a range, not an address, as neighbor and are left out)."""
    found: list[BirdProtocol] = []
    fields: dict[str, Any] | None = None
    channel = ""

    def flush() -> None:
        if fields and fields.get("neighbor") and "/" not in fields["neighbor"]:
            found.append(BirdProtocol(**fields))

    for line in text.splitlines():
        if m := _PROTOCOL.match(line):
            flush()
            fields = {"name": m.group(1), "state": "", "neighbor": "", "imported": {}}
        elif line and not line[0].isspace():
            flush()
            fields = None
        elif fields is None:
            continue
        elif m := _BGP_STATE.match(line):
            fields["state"] = m.group(1)
        elif m := _NEIGHBOR.match(line):
            fields["neighbor"] = m.group(1)
        elif m := _CHANNEL.match(line):
            channel = m.group(1)
        elif m := _IMPORTED.match(line):
            fields["imported"][channel] = int(m.group(1))
    flush()
    return found


_ROUTE_HEAD = re.compile(
    r"^(\S+)?\s+(?:unicast|blackhole|unreachable)\s+\[(\S+) [^]]*?(?:from (\S+))?\]")
_VIA = re.compile(r"^\s+via (\S+) on ")
_ATTR = re.compile(r"^\s+BGP\.(\w+): ?(.*)$")


def parse_routes(text: str, prefix: str, peers: dict[str, str]) -> list[RoutePath]:
    """`show route for PREFIX all` -> one RoutePath per BGP route of exactly `prefix`;
    `peers` maps BIRD's protocol names to neighbor addresses (`from` is shown only for
    routes learned from a peer other than the next hop)."""
    paths: list[RoutePath] = []
    current: dict[str, object] | None = None
    dst = ""

    def flush() -> None:
        if current and dst == prefix and current.get("next_hop"):
            paths.append(RoutePath(prefix=prefix, **current))  # type: ignore[arg-type]

    for line in text.splitlines():
        if m := _ROUTE_HEAD.match(line):
            flush()
            dst = m.group(1) or dst
            current = {"next_hop": "", "peer": m.group(3) or peers.get(m.group(2), ""),
                       "as_path": (), "communities": (),
                       "local_pref": None}
            continue
        if current is None:
            continue
        if m := _VIA.match(line):
            current["next_hop"] = m.group(1)
        elif m := _ATTR.match(line):
            name, value = m.group(1), m.group(2).strip()
            if name == "as_path":
                current["as_path"] = tuple(int(a) for a in value.split() if a.isdigit())
            elif name == "next_hop":
                current["next_hop"] = current["next_hop"] or value.split()[0]
            elif name == "local_pref":
                current["local_pref"] = int(value)
            elif name == "community":
                current["communities"] = tuple(
                    c.strip("()").replace(",", ":") for c in value.split())
    flush()
    return paths
