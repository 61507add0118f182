"""`enableGracefulRestart: true` against a real FRR with `bgp graceful-restart` (rule
N17): the speaker's BGP half (tests/bgp/bgp_process.py, its own process) is killed -9
together with its ExaBGP, and later stopped with SIGTERM; each time FRR keeps the route
(stale) while it is down, a new process announces it again, and a sampler reading FRR's
BGP table and the router's kernel table every ~100 ms throughout never sees it gone."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab.frr import FrrError, FrrRouter, RouterConfig
from lab.harness.bgplab import NODE_ASN, ROUTER_ASN, BgpLab, bgp_lab
from lab.harness.observer import KernelTable, VtySocket
from metallb.wait import poll_until
from tests.pure.test_crd_config import adv, peer, pool

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
VIP = "198.51.100.10/32"
TIMEOUT = 30.0
SAMPLE_EVERY = 0.1


class GracefulRouterConfig(RouterConfig):
    """The lab router's config with graceful restart on (FRR is then a GR helper)."""

    def render(self) -> str:
        return super().render().replace(" no bgp ebgp-requires-policy",
                                        " no bgp ebgp-requires-policy\n bgp graceful-restart", 1)


@dataclass
class Sample:
    t: float
    kernel: bool  # the router's kernel table has a route for VIP
    bgp: bool  # FRR's BGP table has a valid path for VIP
    stale: bool  # ... marked stale (graceful restart keeps it while we are down)
    up: bool  # the node's session is Established


@dataclass
class Sampler:
    """Reads FRR (over its vty socket: no process per sample) and the kernel table every
    SAMPLE_EVERY seconds on a thread of its own until stopped."""

    router: FrrRouter
    node: str
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        bgpd = VtySocket(self.router.state_dir / "bgpd.vty")
        kernel = KernelTable(self.router.netns)
        try:
            while not self._stop.is_set():
                t = time.monotonic()
                paths = bgpd.json(f"show bgp ipv4 unicast {VIP} json").get("paths", [])
                peers = bgpd.json("show bgp summary json").get("ipv4Unicast", {}).get(
                    "peers", {})
                valid = [p for p in paths if p.get("valid")]
                self.samples.append(Sample(
                    t, VIP in kernel.routes(), bool(valid),
                    any(p.get("stale") for p in valid),
                    peers.get(self.node, {}).get("state") == "Established"))
                self._stop.wait(max(0.0, SAMPLE_EVERY - (time.monotonic() - t)))
        except (FrrError, OSError, RuntimeError, ValueError) as err:
            self.errors.append(repr(err))  # a hole in the record must fail the test
        finally:
            kernel.close()
            bgpd.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[Sampler]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(10)

    def last(self) -> Sample | None:
        return self.samples[-1] if self.samples else None


OBJECTS = [
    pool("a", "198.51.100.0/24"),
    peer("router", myASN=NODE_ASN, peerASN=ROUTER_ASN, peerAddress="192.0.2.1",
         holdTime="3s", enableGracefulRestart=True),
    adv("a"),
]
SERVICES = [{"metadata": {"name": "web", "namespace": "default"},
             "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster"},
             "status": {"loadBalancer": {"ingress": [{"ip": VIP.split("/")[0]}]}}}]


@dataclass
class BgpProcess:
    proc: subprocess.Popen
    pid: int
    exabgp: int


@contextlib.contextmanager
def bgp_processes(lab: BgpLab, workdir: Path) -> Iterator[list[BgpProcess]]:
    """Started processes are listed here and killed by PID at the end, whatever state
    they are in."""
    started: list[BgpProcess] = []
    try:
        yield started
    finally:
        for p in started:
            for pid in (p.exabgp, p.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            p.proc.wait(10)


def start(lab: BgpLab, workdir: Path, started: list[BgpProcess]) -> BgpProcess:
    node = lab.nodes[0]
    spec = workdir / f"spec{len(started)}.json"
    spec.write_text(json.dumps({
        "state_dir": str(workdir / "state"), "netns": node.netns,
        "addresses": [node.ipv4, node.ipv6], "objects": OBJECTS, "services": SERVICES}))
    log = open(workdir / f"bgp_process{len(started)}.log", "wb")  # noqa: SIM115
    with log:
        # from the repository root: `-m tests...` must not depend on the cwd an earlier
        # test left behind
        proc = subprocess.Popen([sys.executable, "-m", "tests.bgp.bgp_process", str(spec)],
                                stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, (f"bgp_process exited rc={proc.wait()}: "
                  f"{Path(log.name).read_text()[-2000:]}")
    pids = json.loads(line)
    started.append(BgpProcess(proc, pids["pid"], pids["exabgp"]))
    return started[-1]


def wait_announced(sampler: Sampler, what: str) -> None:
    poll_until(lambda: (s := sampler.last()) is not None and s.up and s.kernel
               and not s.stale, TIMEOUT, what=what)


def wait_stale(sampler: Sampler, what: str) -> None:
    poll_until(lambda: (s := sampler.last()) is not None and not s.up and s.stale,
               TIMEOUT, what=what)


# rule N17
def test_routes_stay_installed_through_a_crash_and_a_stop(tmp_path):
    with bgp_lab(1, router=GracefulRouterConfig(asn=ROUTER_ASN)) as lab, \
            bgp_processes(lab, tmp_path) as started:
        router, node = lab.router, lab.nodes[0]
        first = start(lab, tmp_path, started)
        poll_until(lambda: lab.nexthops(VIP) == [node.ipv4], TIMEOUT, what="route installed")
        neighbor = router.vtysh_json(f"show bgp neighbors {node.ipv4} json")[node.ipv4]
        assert neighbor["gracefulRestartInfo"]["remoteGrMode"] == "Restart"
        with Sampler(router, node.ipv4).running() as sampler:
            wait_announced(sampler, "first sample with the route")
            # crash: ExaBGP and the process that drove it, by PID, with no goodbye
            os.kill(first.exabgp, signal.SIGKILL)
            os.kill(first.pid, signal.SIGKILL)
            first.proc.wait(10)
            wait_stale(sampler, "FRR keeps the route, stale, with the session down")
            second = start(lab, tmp_path, started)
            wait_announced(sampler, "announced again by the new process, no longer stale")
            # a clean stop (SIGTERM) of a graceful-restart peer: no withdraw (upstream)
            os.kill(second.pid, signal.SIGTERM)
            assert second.proc.wait(15) == 0
            wait_stale(sampler, "kept, stale, after a clean stop")
            start(lab, tmp_path, started)
            wait_announced(sampler, "announced again after the stop")
        assert not sampler.errors
        gone = [s for s in sampler.samples if not (s.kernel and s.bgp)]
        assert not gone, f"route missing in {len(gone)} of {len(sampler.samples)} samples"
        # the record spans both outages: up, down (stale), up, down (stale), up
        pairs = itertools.pairwise(sampler.samples)
        downs = sum(1 for a, b in pairs if a.up and not b.up)
        assert downs == 2 and sampler.samples[0].up and sampler.samples[-1].up
