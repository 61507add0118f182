"""Records the `Timeline` of a fault run (lab/harness/transients.py replays it).

Two recorders run on threads of their own while the rounds run:
- an in-process watch on the emulator's store for Services and EndpointSlices, which
  sees every version the API stored, in order. It is not an HTTP client on purpose: the
  injected API faults (500s, forced 410s, latency) are meant for the daemons; an HTTP
  watch would consume some of them and, on a relist, skip versions. A cut watch
  (the `cut_watches` fault) is reopened from the last version seen, which loses none.
- a router sampler: FRR's BGP table (`show bgp ipv4 unicast json`: what the router
  received), its Established sessions
  (`show bgp summary json`) and the router namespace's kernel table (`ip -j route
  show proto bgp`), every `interval` seconds. No process is started per sample (a
  vtysh takes 0.2-0.4 s to start on a busy machine, which would make 100 ms samples
  impossible): FRR is asked over its daemons' vty sockets (`VtySocket`), the kernel
  through one long-lived `ip -batch -` in the router namespace (`KernelTable`).
Scenarios add what only they know: nodes marked down / up and fault windows.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.apiserver import ApiServer
from lab.apiserver.selection import FieldSelector, LabelSelector
from lab.apiserver.watch import Watcher
from lab.frr import FrrError, FrrRouter
from lab.harness.transients import ApiEvent, FaultWindow, NodeMark, RouterSample, Timeline
from lab.routes import parse_routes

WATCHED = (("", "v1", "services"), ("discovery.k8s.io", "v1", "endpointslices"))


def bgp_table(data: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """`show bgp ipv4 unicast json` -> {prefix: sorted next hops of its valid paths}:
    what the router received from the speakers, before zebra selects and installs it
    (zebra's RIB briefly shows a re-announced route unselected while the kernel still
    forwards by the old one; the BGP table does not)."""
    routes: dict[str, tuple[str, ...]] = {}
    for prefix, paths in ((data or {}).get("routes") or {}).items():
        hops = sorted({(path.get("nexthops") or [{}])[0].get("ip") or path.get("peerId", "")
                       for path in paths if path.get("valid")})
        if hops:
            routes[prefix] = tuple(hops)
    return routes


def established(data: dict[str, Any]) -> frozenset[str]:
    """`show bgp summary json` -> the addresses of the Established IPv4 peers."""
    peers = ((data or {}).get("ipv4Unicast") or {}).get("peers") or {}
    return frozenset(p for p, e in peers.items() if e.get("state") == "Established")


class VtySocket:
    """One FRR daemon's vty socket (`<state_dir>/<daemon>.vty`), spoken to as vtysh
    does: a command and a NUL out; the output, three NULs and a status byte back.
    Reconnects on the next command after any failure (FRR restarting).
    Threads: one caller thread at a time."""

    def __init__(self, path: Path, timeout: float = 5.0):
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def json(self, command: str) -> Any:
        """The command's JSON output; FrrError if the daemon is not there or fails."""
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.settimeout(self.timeout)
                self._sock.connect(str(self.path))
            self._sock.sendall(command.encode() + b"\0")
            buf = b""
            while len(buf) < 4 or buf[-4:-1] != b"\0\0\0":
                chunk = self._sock.recv(1 << 16)
                if not chunk:
                    raise OSError("closed")
                buf += chunk
        except OSError as err:
            self.close()
            raise FrrError(f"{self.path.name}: {command!r}: {err}") from None
        if buf[-1] != 0:
            raise FrrError(f"{self.path.name}: {command!r} failed: {buf[:-4][:200]!r}")
        return json.loads(buf[:-4].decode() or "{}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class KernelTable:
    """`ip -j route show proto bgp` in a namespace, answered by one `ip -batch -`
    process that lives as long as this object (one JSON line per command).
    Threads: one caller thread at a time; close() from the same thread."""

    def __init__(self, netns: str, timeout: float = 5.0):
        self.timeout = timeout
        self.proc = subprocess.Popen(["ip", "-4", "-n", netns, "-j", "-batch", "-"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)

    def routes(self) -> dict[str, tuple[str, ...]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("route show proto bgp\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"ip -batch gave no answer (rc={self.proc.poll()})")
        return parse_routes(line)

    def close(self) -> None:
        self.proc.kill()  # our own child, by its handle
        self.proc.wait()


class Observer:
    """The recorders of one run.

    Always holds: `events` is in the store's resourceVersion order per resource, `samples`
    in time order; both only grow. Threads: start(), mark_node(), fault() and stop() are
    called by the scenario's thread; one thread per watched resource appends to
    `events`, the sampler thread appends to `samples` (list.append is atomic under the
    GIL; `timeline()` copies). No callbacks.
    """

    def __init__(self, server: ApiServer, router: FrrRouter, namespace: str,
                 interval: float = 0.1, clock: Callable[[], float] = time.monotonic):
        self.server = server
        self.router = router
        self.namespace = namespace
        self.interval = interval
        self.clock = clock
        self.events: list[ApiEvent] = []
        self.samples: list[RouterSample] = []
        self.marks: list[NodeMark] = []
        self.windows: list[FaultWindow] = []
        self.errors: list[str] = []  # a recording with a hole says so here
        self._stop = threading.Event()
        self._watchers: dict[str, Watcher] = {}
        self._threads: list[threading.Thread] = []

    # -- scenario side --------------------------------------------------------------
    def mark_node(self, node: str, announcing: bool) -> float:
        t = self.clock()
        self.marks.append(NodeMark(t, node, announcing))
        return t

    def fault(self, start: float, end: float, what: str, sessions: bool) -> None:
        self.windows.append(FaultWindow(start, end, what, sessions))

    def timeline(self) -> Timeline:
        return Timeline(tuple(self.events), tuple(self.samples), tuple(self.marks),
                        tuple(self.windows), self.clock())

    # -- threads --------------------------------------------------------------------
    def start(self) -> Observer:
        for group, version, plural in WATCHED:
            self._threads.append(threading.Thread(target=self._watch, args=(group, version,
                                                  plural), daemon=True, name=f"obs-{plural}"))
        self._threads.append(threading.Thread(target=self._sample, daemon=True,
                                              name="obs-router"))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        store = self.server.store
        for watcher in list(self._watchers.values()):
            store.stop_watch(watcher)
            watcher.queue.put(("close",))
        for thread in self._threads:
            thread.join(10)

    def _watch(self, group: str, version: str, plural: str) -> None:
        store = self.server.store
        rt = store.resource_type(group, version, plural)
        assert rt is not None, plural
        since: str | None = None
        while not self._stop.is_set():
            watcher = store.watch(rt, self.namespace, LabelSelector(), FieldSelector(), since)
            self._watchers[plural] = watcher
            while True:
                item = watcher.queue.get()
                if item[0] == "event":
                    obj = item[2]
                    self.events.append(ApiEvent(self.clock(), plural, item[1], obj))
                    since = (obj.get("metadata") or {}).get("resourceVersion", since)
                elif item[0] in ("close", "error"):
                    break
            if item[0] == "error":  # history gone: the recording would have a hole
                self.errors.append(f"observer watch of {plural} lost history: {item[1]}")
                return

    def _sample(self) -> None:
        bgpd = VtySocket(self.router.state_dir / "bgpd.vty")
        kernel = KernelTable(self.router.netns)
        try:
            while not self._stop.is_set():
                began = self.clock()
                try:
                    frr: dict[str, tuple[str, ...]] | None = bgp_table(
                        bgpd.json("show bgp ipv4 unicast json"))
                    sessions: frozenset[str] | None = established(
                        bgpd.json("show bgp summary json"))
                except (FrrError, ValueError):
                    frr, sessions = None, None  # FRR is restarting
                kernel_routes = kernel.routes()
                # stamped at the middle of its three reads (0.4 s together on a loaded
                # machine): stamped at their start, a change looked that much early
                self.samples.append(RouterSample((began + self.clock()) / 2, kernel_routes,
                                                 frr, sessions))
                self._stop.wait(max(0.0, self.interval - (self.clock() - began)))
        except Exception as err:  # a hole in the recording must not pass unnoticed
            self.errors.append(f"router sampler stopped: {err!r}")
        finally:
            kernel.close()
            bgpd.close()
