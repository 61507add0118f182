"""An FRR router (zebra + bgpd, + bfdd when BFD is configured) inside a network
namespace, without systemd.

Each instance has its own state directory (owned by user `frr`, because the daemons drop
privileges), its own vty socket directory and zserv socket, and pidfiles, so several
routers, also of other engineers' concurrent runs, coexist on one machine. The config
accepts any node of the link subnets through `bgp listen range` and installs ECMP routes
(`maximum-paths 8`, `bgp bestpath as-path multipath-relax`), which is what MetalLB users
run upstream. With a BFD profile, bfdd runs too and every node session is watched by
BFD (`neighbor GROUP bfd profile NAME`), as upstream's FRR mode configures it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lab.routes import kernel_nexthops
from metallb.logs import log_event
from metallb.wait import poll_until

log = logging.getLogger(__name__)

T = TypeVar("T")

FRR_LIBDIR = Path("/usr/lib/frr")
DAEMONS = ("zebra", "bfdd", "bgpd")  # start order of those a config runs; stopped in reverse


class FrrError(RuntimeError):
    """FRR failed to start or a vtysh command failed; says which and why."""


@dataclass(frozen=True)
class BfdTimers:
    """A bfdd profile (milliseconds), as both ends of a lab session use it."""

    name: str
    tx: int = 300
    rx: int = 300
    multiplier: int = 3
    passive: bool = False

    @property
    def detect_ms(self) -> int:
        return self.multiplier * max(self.tx, self.rx)

    def render(self) -> str:
        passive = "  passive-mode\n" if self.passive else ""
        return (f" profile {self.name}\n  receive-interval {self.rx}\n"
                f"  transmit-interval {self.tx}\n  detect-multiplier {self.multiplier}\n"
                f"{passive} !\n")


@dataclass(frozen=True)
class RouterConfig:
    """What the upstream router accepts.

    `remote_as` is "external" (eBGP nodes with any other ASN), "internal" (iBGP, same
    ASN as the router, for local-preference tests) or a number.
    """

    asn: int = 64512
    router_id: str = "192.0.2.1"
    listen_v4: str | None = "192.0.2.0/24"
    listen_v6: str | None = "2001:db8:ffff::/64"
    remote_as: str | int = "external"
    password: str | None = None
    maximum_paths: int = 8
    hold_time: int = 3
    keepalive: int = 1
    ebgp_multihop: int | None = None  # > 1: nodes behind a gateway (Packet topology)
    # BFD: `bfd` watches every node session with this profile (bfdd runs); `bfd_peers`
    # are static bfdd `peer` blocks (the BFD interop lab, which runs no BGP: bgp=False).
    bfd: BfdTimers | None = None
    bfd_profiles: tuple[BfdTimers, ...] = ()
    bfd_peers: tuple[str, ...] = ()
    bgp: bool = True

    def daemons(self) -> tuple[str, ...]:
        """The FRR daemons this config runs, in start order."""
        bfd = self.bfd is not None or bool(self.bfd_peers)
        return tuple(d for d in DAEMONS
                     if d == "zebra" or (d == "bfdd" and bfd) or (d == "bgpd" and self.bgp))

    def render_bfdd(self, log_file: Path) -> str:
        """bfdd's configuration: microsecond log stamps and the state-change lines (the
        log is named here: a `--log` target ignores the precision), the profiles, the
        static peers."""
        profiles = {p.name: p for p in (*self.bfd_profiles, *([self.bfd] if self.bfd else []))}
        return (f"log file {log_file}\nlog timestamp precision 6\ndebug bfd peer\nbfd\n"
                + "".join(profiles[name].render() for name in sorted(profiles))
                + "".join(self.bfd_peers))

    def render(self) -> str:
        """bgpd configuration text (zebra needs none: it installs what bgpd selects)."""
        lines = [
            "frr defaults traditional",
            "hostname metallb-lab-router",
            "!",
            f"router bgp {self.asn}",
            f" bgp router-id {self.router_id}",
            " no bgp ebgp-requires-policy",
            " no bgp default ipv4-unicast",
            " bgp bestpath as-path multipath-relax",
            f" timers bgp {self.keepalive} {self.hold_time}",
        ]
        groups = []
        if self.listen_v4:
            groups.append(("NODES4", self.listen_v4, "ipv4"))
        if self.listen_v6:
            groups.append(("NODES6", self.listen_v6, "ipv6"))
        for name, subnet, _family in groups:
            lines += [
                f" neighbor {name} peer-group",
                f" neighbor {name} remote-as {self.remote_as}",
                f" neighbor {name} timers {self.keepalive} {self.hold_time}",
                f" neighbor {name} timers connect 1",
            ]
            if self.password:
                lines.append(f" neighbor {name} password {self.password}")
            if self.ebgp_multihop:
                lines.append(f" neighbor {name} ebgp-multihop {self.ebgp_multihop}")
            if self.bfd:
                lines.append(f" neighbor {name} bfd profile {self.bfd.name}")
            lines.append(f" bgp listen range {subnet} peer-group {name}")
        for name, _subnet, family in groups:
            lines += [
                " !",
                f" address-family {family} unicast",
                f"  neighbor {name} activate",
                f"  maximum-paths {self.maximum_paths}",
                f"  maximum-paths ibgp {self.maximum_paths}",
                " exit-address-family",
            ]
        lines += ["!", "line vty", "!", ""]
        return "\n".join(lines)


class FrrRouter:
    """zebra + bgpd (+ bfdd, see RouterConfig.daemons) in `netns`, state under
    `state_dir` (a temp dir when None).

    The daemons run as user `frr`: every parent directory of `state_dir` must be
    traversable by it (mode o+x), or zebra fails with "Can't create pid lock file".
    """

    def __init__(self, netns: str, config: RouterConfig | None = None,
                 state_dir: str | Path | None = None):
        self.netns = netns
        self.config = config or RouterConfig()
        self._own_state_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix=f"frr-{netns}-"))
        self.conf_path = self.state_dir / "bgpd.conf"
        self.daemons = self.config.daemons()

    # -- lifecycle -------------------------------------------------------------------
    def _conf_of(self, daemon: str) -> Path:
        return self.state_dir / f"{daemon}.conf"

    def _pidfile(self, daemon: str) -> Path:
        return self.state_dir / f"{daemon}.pid"

    def _prepare_state_dir(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        texts = {"zebra": "hostname metallb-lab-router\n", "bgpd": self.config.render(),
                 "bfdd": self.config.render_bfdd(self.state_dir / "bfdd.log")}
        frr = pwd.getpwnam("frr")
        os.chown(self.state_dir, frr.pw_uid, frr.pw_gid)
        for daemon in self.daemons:
            self._conf_of(daemon).write_text(texts[daemon])
            os.chown(self._conf_of(daemon), frr.pw_uid, frr.pw_gid)
        self.state_dir.chmod(0o770)

    def start(self, timeout: float = 10.0) -> FrrRouter:
        """Start the daemons that are not running (zebra, bfdd, bgpd); return once the
        last answers on its vty socket."""
        self._prepare_state_dir()
        try:
            for daemon in self.daemons:
                if self._read_pid(daemon) is None:
                    self._start_daemon(daemon, timeout)
            poll_until(self._vty_ready, timeout, what=f"{self.daemons[-1]} vty in {self.netns}")
        except BaseException:
            self.stop()
            raise
        log_event(log, "info", "frr_started", netns=self.netns, asn=self.config.asn,
                  remote_as=self.config.remote_as)
        return self

    def _start_daemon(self, daemon: str, timeout: float) -> None:
        pidfile = self._pidfile(daemon)
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()
        logfile = self.state_dir / f"{daemon}.log"
        cmd = [
            "ip", "netns", "exec", self.netns, str(FRR_LIBDIR / daemon), "-d",
            "--vty_socket", str(self.state_dir), "-z", str(self.state_dir / "zserv.api"),
            "-P", "0", "-i", str(pidfile), "-f", str(self._conf_of(daemon)),
        ]
        # bfdd: its own control socket (the default one is shared by every bfdd of the
        # machine); its log file is named in its config (for the stamps' precision).
        cmd += (["--bfdctl", str(self.state_dir / "bfdd.sock")] if daemon == "bfdd"
                else ["--log", f"file:{logfile}"])
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              timeout=timeout)
        if proc.returncode != 0:
            raise FrrError(f"{daemon} in {self.netns} failed to start (rc={proc.returncode}): "
                           f"{proc.stderr.strip() or proc.stdout.strip()}; log: {logfile}")
        poll_until(lambda: self._read_pid(daemon), timeout, what=f"{daemon} pidfile {pidfile}")

    def _read_pid(self, daemon: str) -> int | None:
        try:
            pid = int(self._pidfile(daemon).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def _vty_ready(self) -> bool:
        if self.daemons[-1] == "bfdd":
            proc = self._vtysh_raw("show bfd peers json")
            return proc.returncode == 0 and proc.stdout.strip().startswith("[")
        proc = self._vtysh_raw("show bgp summary json")
        return proc.returncode == 0 and proc.stdout.strip().startswith("{")

    def pids(self) -> dict[str, int]:
        """Running daemons and their PIDs (from the pidfiles)."""
        return {d: pid for d in DAEMONS if (pid := self._read_pid(d))}

    def stop_daemon(self, daemon: str, timeout: float = 10.0) -> None:
        """SIGTERM one daemon by PID, SIGKILL after `timeout` (e.g. bfdd, for a router
        whose BFD fails while BGP runs on). `start` starts it again."""
        pid = self._read_pid(daemon)
        if pid is not None:
            terminate(pid, timeout)
        with contextlib.suppress(FileNotFoundError):
            self._pidfile(daemon).unlink()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM each daemon by PID (bgpd first), SIGKILL after `timeout`. Idempotent."""
        for daemon in reversed(DAEMONS):
            self.stop_daemon(daemon, timeout)
        log_event(log, "info", "frr_stopped", netns=self.netns)

    def restart(self, timeout: float = 10.0) -> FrrRouter:
        self.stop(timeout)
        return self.start(timeout)

    def cleanup(self) -> None:
        """Stop and remove the state directory if this object created it."""
        self.stop()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> FrrRouter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- queries ---------------------------------------------------------------------
    def _vtysh_raw(self, *commands: str) -> subprocess.CompletedProcess[str]:
        args = [arg for command in commands for arg in ("-c", command)]
        return subprocess.run(
            ["vtysh", "--vty_socket", str(self.state_dir), *args],
            capture_output=True, text=True, check=False, timeout=30,
        )

    def reapply_bfd(self) -> None:
        """Register every node session with bfdd again (`no neighbor G bfd`, then the
        profile again). FRR 8.4's bgpd can lose the registration of a dynamic neighbor
        (`bgp listen range`) created while bfdd was restarting; this is what an operator
        does then."""
        assert self.config.bfd is not None, "this router runs no BFD for its sessions"
        groups = [g for g, subnet in (("NODES4", self.config.listen_v4),
                                      ("NODES6", self.config.listen_v6)) if subnet]
        commands = ["configure terminal", f"router bgp {self.config.asn}"]
        for group in groups:
            commands += [f"no neighbor {group} bfd",
                         f"neighbor {group} bfd profile {self.config.bfd.name}"]
        self.vtysh(*commands)

    def vtysh(self, *commands: str) -> str:
        """Run vtysh commands (one session, in order) against this router; FrrError if
        it fails."""
        proc = self._vtysh_raw(*commands)
        if proc.returncode != 0:
            shown = " / ".join(commands)
            raise FrrError(f"vtysh {shown!r} on {self.netns} failed (rc={proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()}")
        return proc.stdout

    def vtysh_json(self, command: str) -> Any:
        out = self.vtysh(command)
        try:
            return json.loads(out) if out.strip() else {}
        except json.JSONDecodeError as exc:
            raise FrrError(f"vtysh {command!r} on {self.netns} gave no JSON: {out[:200]!r}") \
                from exc

    def bgp_summary(self) -> dict[str, dict[str, Any]]:
        """peer address -> FRR's summary entry (state, pfxRcd, ...), both families."""
        data = self.vtysh_json("show bgp summary json")
        peers: dict[str, dict[str, Any]] = {}
        for family in ("ipv4Unicast", "ipv6Unicast"):
            peers.update(data.get(family, {}).get("peers", {}))
        return peers

    def established(self) -> set[str]:
        """Addresses of peers whose session is Established."""
        return {p for p, e in self.bgp_summary().items() if e.get("state") == "Established"}

    def routes(self, prefix: str) -> list[dict[str, Any]]:
        """FRR's paths for exactly `prefix`, with attributes (community, locPrf, nexthops,
        peer); empty when FRR does not know it."""
        family = "ipv6" if ipaddress.ip_network(prefix).version == 6 else "ipv4"
        data = self.vtysh_json(f"show bgp {family} unicast {prefix} json")
        if data.get("prefix") != prefix:  # a less specific match or nothing at all
            return []
        return list(data.get("paths", []))

    def path_nexthops(self, prefix: str) -> list[str]:
        """Next hops of FRR's paths for `prefix` (BGP table, before zebra)."""
        return sorted(hop["ip"] for path in self.routes(prefix)
                      for hop in path.get("nexthops", [])[:1])

    def prefixes_received(self, family: str = "ipv4") -> int:
        """Prefixes received over all sessions of `family` (cheap: no per-route JSON)."""
        data = self.vtysh_json(f"show bgp {family} unicast summary json")
        return sum(int(p.get("pfxRcd", 0)) for p in data.get("peers", {}).values())

    def bfd_peers(self) -> list[dict[str, Any]]:
        """bfdd's sessions (`show bfd peers json`); [] when bfdd does not run."""
        if self._read_pid("bfdd") is None:
            return []
        data = self.vtysh_json("show bfd peers json")
        return list(data) if isinstance(data, list) else []

    def kernel_nexthops(self, prefix: str) -> list[str]:
        """Gateways zebra installed for `prefix` in the router namespace's kernel table."""
        return kernel_nexthops(self.netns, prefix)

    def wait_for(self, condition: Callable[[], T], timeout: float = 10.0,
                 what: str | None = None) -> T:
        """Poll `condition` (usually a lambda over this router's queries) until truthy."""
        return poll_until(condition, timeout, what=what)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs. A zombie counts as gone: the daemons (-d) are reparented to
    PID 1, which may reap them a second or more after they exited."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM `pid`, wait until it is gone, SIGKILL if it outlives `timeout`."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        poll_until(lambda: not pid_alive(pid), timeout, what=f"pid {pid} to exit")
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        poll_until(lambda: not pid_alive(pid), 5.0, what=f"pid {pid} to die after SIGKILL")
