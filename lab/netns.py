"""Network namespaces for the BGP lab: one router namespace and N node namespaces on one
L2 segment (a Linux bridge inside the router namespace).

Every name starts with a per-instance prefix so parallel test runs never touch each
other's namespaces, and `down()` removes everything carrying the prefix, also the
leftovers of an earlier crashed instance that used the same prefix.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import logging
import os
import signal
import subprocess
from dataclasses import dataclass

from metallb.logs import log_event

log = logging.getLogger(__name__)

LINK_V4 = ipaddress.ip_network("192.0.2.0/24")
LINK_V6 = ipaddress.ip_network("2001:db8:ffff::/64")
ROUTER_HOST = 1
FIRST_NODE_HOST = 11
MAX_PREFIX_LEN = 40  # namespace names are files under /run/netns; keep them readable

_instance_counter = itertools.count()


class NetnsError(RuntimeError):
    """An `ip` command failed; the message carries the command and its stderr."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip ARGS...`; raise NetnsError with the command and stderr on failure."""
    cmd = ["ip", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(cmd)} failed (rc={proc.returncode}): {proc.stderr.strip()}")
    return proc


def list_netns(prefix: str = "") -> list[str]:
    """Names of existing namespaces that start with `prefix`."""
    out = ip("netns", "list").stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(prefix))


def add_netns(name: str) -> None:
    """Create namespace `name` with its loopback up."""
    ip("netns", "add", name)
    ip("-n", name, "link", "set", "lo", "up")


def netns_pids(name: str) -> list[int]:
    """PIDs of processes living in namespace `name` (empty if it does not exist)."""
    proc = ip("netns", "pids", name, check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def delete_netns(name: str) -> None:
    """Kill (by PID) what still runs inside `name`, then delete it. Missing is fine.

    Only used on namespaces this module created (the prefix guarantees it): a process
    left inside is a leftover of a crashed run, not somebody else's.
    """
    for pid in netns_pids(name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            log_event(log, "warn", "netns_leftover_killed", netns=name, pid=pid)
    proc = ip("netns", "del", name, check=False)
    if proc.returncode != 0 and name in list_netns(name):
        raise NetnsError(f"ip netns del {name} failed: {proc.stderr.strip()}")


def sysctl(netns: str, key: str, value: str) -> None:
    """Set a sysctl inside `netns` (writes /proc/sys via `ip netns exec`)."""
    path = "/proc/sys/" + key.replace(".", "/")
    proc = subprocess.run(
        ["ip", "netns", "exec", netns, "sh", "-c", f"echo {value} > {path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise NetnsError(f"sysctl {key}={value} in {netns} failed: {proc.stderr.strip()}")


def unique_prefix() -> str:
    """A prefix unique among live processes and instances, e.g. `mlb4711x3` (full PID:
    two live processes never share it, so one run never deletes another's namespaces)."""
    return f"mlb{os.getpid()}x{next(_instance_counter)}"


@dataclass(frozen=True)
class Node:
    """One node namespace and its addresses on the shared segment."""

    netns: str
    ipv4: str
    ipv6: str
    interface: str = "eth0"


class Topology:
    """A router namespace with a bridge, and `nodes` node namespaces plugged into it.

    Addresses: router 192.0.2.1/24 and 2001:db8:ffff::1/64 on bridge `br0`; node i
    (0-based) 192.0.2.(11+i) and 2001:db8:ffff::(11+i) on `eth0` (hex digits of the
    decimal number, e.g. ::11, ::12). IPv6 addresses skip DAD so they are usable at once.
    """

    def __init__(self, nodes: int = 3, prefix: str | None = None):
        if not 1 <= nodes <= 200:
            raise ValueError(f"nodes must be 1..200, got {nodes}")
        self.prefix = prefix or unique_prefix()
        if len(self.prefix) > MAX_PREFIX_LEN or "/" in self.prefix:
            raise ValueError(f"prefix {self.prefix!r}: at most {MAX_PREFIX_LEN} characters, "
                             "no '/'")
        self.router = f"{self.prefix}r"
        self.router_ipv4 = str(LINK_V4.network_address + ROUTER_HOST)
        self.router_ipv6 = str(LINK_V6.network_address + ROUTER_HOST)
        self.nodes = tuple(
            Node(
                netns=f"{self.prefix}n{i}",
                ipv4=str(LINK_V4.network_address + FIRST_NODE_HOST + i),
                ipv6=str(ipaddress.ip_address(f"2001:db8:ffff::{FIRST_NODE_HOST + i}")),
            )
            for i in range(nodes)
        )
        self._up = False

    @property
    def link_v4(self) -> str:
        return str(LINK_V4)

    def namespaces(self) -> list[str]:
        return [self.router, *(n.netns for n in self.nodes)]

    def up(self) -> Topology:
        """Build the topology (after removing leftovers with this prefix). Idempotent."""
        if self._up:
            return self
        self.down()
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        self._up = True
        log_event(log, "info", "topology_up", prefix=self.prefix, router=self.router,
                  nodes=len(self.nodes))
        return self

    def _build(self) -> None:
        r = self.router
        add_netns(r)
        ip("-n", r, "link", "add", "br0", "type", "bridge", "stp_state", "0",
           "forward_delay", "0")
        ip("-n", r, "addr", "add", f"{self.router_ipv4}/{LINK_V4.prefixlen}", "dev", "br0")
        ip("-n", r, "addr", "add", f"{self.router_ipv6}/{LINK_V6.prefixlen}", "dev", "br0",
           "nodad")
        ip("-n", r, "link", "set", "br0", "up")
        sysctl(r, "net.ipv4.fib_multipath_hash_policy", "1")
        for i, node in enumerate(self.nodes):
            add_netns(node.netns)
            port = f"p{i}"
            ip("-n", r, "link", "add", port, "type", "veth", "peer", "name", node.interface,
               "netns", node.netns)
            ip("-n", r, "link", "set", port, "master", "br0", "up")
            n = node.netns
            ip("-n", n, "addr", "add", f"{node.ipv4}/{LINK_V4.prefixlen}", "dev", node.interface)
            ip("-n", n, "addr", "add", f"{node.ipv6}/{LINK_V6.prefixlen}", "dev",
               node.interface, "nodad")
            ip("-n", n, "link", "set", node.interface, "up")

    def down(self) -> None:
        """Delete every namespace carrying this prefix (ours or a crashed run's). Idempotent."""
        for name in list_netns(self.prefix):
            # PREFIXr1, PREFIXr2: the Packet topology's provider routers (lab/packet.py)
            provider_router = name[len(self.router):].isdigit()
            if name == self.router or name.startswith(f"{self.prefix}n") or (
                    name.startswith(self.router) and provider_router):
                delete_netns(name)
        self._up = False

    def __enter__(self) -> Topology:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()
