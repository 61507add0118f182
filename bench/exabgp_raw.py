"""Raw ExaBGP throughput into FRR: how long from the first command until FRR counts all
N /32s, per ExaBGP version, command form and `group-updates` setting, plus the same
through ExaBGPDriver (to show the driver adds nothing on top of the fast form); and
first ExaBGP's start-up, stock and through the launcher.

    sudo python3 bench/exabgp_raw.py [--routes 10000] [--versions 4.2.25,4.2.25-lean,5.0.15]
    python3 bench/exabgp_raw.py --startup-only [--starts 10]

ExaBGP 4.2.25 is the project's pinned version (this interpreter's `python -m exabgp`);
"4.2.25-lean" is the same ExaBGP started the way the speaker starts it, through
speaker/exabgp/launcher/ (which removes a deep copy per route, ...); other versions are
installed into throwaway venvs under /tmp (skipped with a message if that fails). One
ExaBGP in a node namespace talks to FRR in a router namespace.

Every contender here and in bench/gobgp_raw.py is measured by bench/measure.py's rules:
the router idle (FRR and its kernel table empty) before each run, FRR and the kernel polled
every 20 ms, "FRR holds all" then "+ kernel". "sender done" is when the sender's API had
taken every route: ExaBGP's acknowledgement of the last command (its arrival time), GoBGP's
API call returning; none for the driver row. The rows run interleaved, round by round
(--repeat rounds), so machine load hits all alike; the table shows min / median / max per
row and the ratio to the first row paired round by round.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import POLL_S, until_router_holds, wait_idle
from bench.report import Report, add_json_flag, fmt_spread, paired_ratios, spread
from lab.frr import FrrRouter, RouterConfig
from lab.netns import Topology
from metallb.childproc import terminate
from metallb.wait import WaitTimeout, poll_until
from speaker.bgp import PeerSpec, RouteAttrs
from speaker.exabgp.config import exabgp_env, render_config
from speaker.exabgp.driver import RELAY_SCRIPT, ExaBGPDriver
from speaker.exabgp.events import Ack, StateChange, parse_line
from speaker.exabgp.supervisor import default_exabgp_cmd, stock_exabgp_cmd

PINNED = "4.2.25"
LEAN = f"{PINNED}-lean"
BATCH = 1000
# ExaBGP's start and session set-up, not measured: on a machine at load 40 a stock start
# alone took up to 26 s (its 0.15 s idle), so 30 s was too short
START_TIMEOUT_S = 180
MODES = [("batched", False), ("batched", True), ("per-line", False), ("per-line", True),
         ("neighbor-batched", False)]


@dataclass
class Result:
    version: str
    mode: str
    group_updates: bool
    seconds: float | None  # first command -> FRR counts all; None = timed out
    ack_seconds: float | None  # first command -> the sender took all (see the README)
    rss_mb: float | None
    kernel_seconds: float | None = None  # first command -> the router's kernel has all


@dataclass
class Row:
    """The runs of one configuration, one per round (rounds interleave the rows)."""

    runs: list[Result]

    def column(self, attr: str) -> list[float]:
        """Per round, `attr` (NaN where the run timed out, so rounds stay aligned)."""
        return [v if (v := getattr(r, attr)) is not None else float("nan") for r in self.runs]

    @property
    def rss(self) -> float | None:
        values = [v for r in self.runs if (v := r.rss_mb) is not None]
        return max(values) if values else None


def exabgp_command(version: str) -> list[str] | None:
    """The command running ExaBGP `version`: this interpreter's for the pinned one, a
    throwaway venv under /tmp for the others (created on first use)."""
    if version == PINNED:
        return stock_exabgp_cmd()
    if version == LEAN:
        return default_exabgp_cmd()
    venv = Path(f"/tmp/metallb-bench-exabgp-{version}")
    exe = venv / "bin" / "exabgp"
    if not exe.exists():
        print(f"# installing exabgp=={version} into {venv} ...", flush=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                            f"exabgp=={version}"], check=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"# skipping ExaBGP {version}: could not install it ({exc})")
            return None
    return [str(exe)]


def prefixes(n: int, family: int) -> list[str]:
    """N distinct host prefixes. IPv4: from 198.18.0.0/15, the range IANA reserves for
    benchmarks (RFC 2544; the documentation /24s hold only 512 addresses); they exist only
    inside the bench's own namespaces. IPv6: /128s from 2001:db8::/32."""
    if family == 6:
        return [f"2001:db8:beef::{i:x}/128" for i in range(n)]
    if n > 2**17:
        raise SystemExit("--routes must be <= 131072 for IPv4")
    return [f"198.{18 + i // 65536}.{i // 256 % 256}.{i % 256}/32" for i in range(n)]


def commands(mode: str, routes: list[str], peer: str) -> list[str]:
    if mode == "neighbor-batched":  # the form the driver uses (one peer targeted)
        return [f"neighbor {peer} announce attributes next-hop self nlri "
                f"{' '.join(routes[i:i + BATCH])}" for i in range(0, len(routes), BATCH)]
    if mode == "batched":
        return [f"announce attributes next-hop self nlri {' '.join(routes[i:i + BATCH])}"
                for i in range(0, len(routes), BATCH)]
    return [f"announce route {p} next-hop self" for p in routes]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


class RawExaBGP:
    """One ExaBGP with the relay as API process; the bench writes commands itself."""

    def __init__(self, cmd: list[str], workdir: Path, netns: str, spec: PeerSpec,
                 group_updates: bool):
        self.sock_path = workdir / "api.sock"
        with contextlib.suppress(FileNotFoundError):
            self.sock_path.unlink()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.sock_path))
        self.listener.listen(1)
        conf = workdir / "exabgp.conf"
        conf.write_text(render_config([spec], [sys.executable, str(RELAY_SCRIPT),
                                               str(self.sock_path)], group_updates))
        self.log = open(workdir / "exabgp.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, *cmd, str(conf)],
                                     env={**os.environ, **exabgp_env("WARNING")},
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.up = threading.Event()
        self.acks = 0
        self.last_ack_at = 0.0  # monotonic time of the latest ack, taken as it arrives
        self.listener.settimeout(START_TIMEOUT_S)
        self.conn, _ = self.listener.accept()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError), self.conn.makefile("rb") as lines:
            for raw in lines:
                event = parse_line(raw.decode(errors="replace"))
                if isinstance(event, Ack):
                    self.last_ack_at = time.monotonic()
                    self.acks += 1
                elif isinstance(event, StateChange) and event.state == "up":
                    self.up.set()

    def send(self, lines: list[str]) -> None:
        self.conn.sendall("".join(line + "\n" for line in lines).encode())

    def stop(self) -> None:
        terminate(self.proc, 15)
        for closable in (self.conn, self.listener, self.log):
            closable.close()


def fam(routes: list[str]) -> str:
    return "ipv6" if ":" in routes[0] else "ipv4"


def session(topo: Topology, routes: list[str]) -> PeerSpec:
    """The node's session to the router, over the routes' address family."""
    node = topo.nodes[0]
    if fam(routes) == "ipv6":
        return PeerSpec(topo.router_ipv6, 64512, 64513, node.ipv6, node.ipv4, hold_time=30)
    return PeerSpec(topo.router_ipv4, 64512, 64513, node.ipv4, node.ipv4, hold_time=30)


def run_raw(cmd: list[str], version: str, mode: str, group_updates: bool, topo: Topology,
            router: FrrRouter, routes: list[str], workdir: Path, timeout: float) -> Result:
    spec = session(topo, routes)
    family = fam(routes)
    exa = RawExaBGP(cmd, workdir, topo.nodes[0].netns, spec, group_updates)
    try:
        if not exa.up.wait(START_TIMEOUT_S):
            raise RuntimeError(f"ExaBGP {version} session did not come up; see {workdir}")
        lines = commands(mode, routes, spec.peer_address)
        wait_idle(router, family, timeout)
        start = time.monotonic()
        exa.send(lines)
        finish = until_router_holds(router, len(routes), family, start, timeout)
        ack_seconds = None
        with contextlib.suppress(WaitTimeout):
            poll_until(lambda: exa.acks >= len(lines), 5, interval=0.01)
            ack_seconds = exa.last_ack_at - start  # when the last ack arrived, not now
        return Result(version, mode, group_updates, finish.bgp_s, ack_seconds,
                      rss_mb(exa.proc.pid), finish.kernel_s)
    finally:
        exa.stop()
        wait_idle(router, family, timeout)


def run_driver(cmd: list[str], version: str, topo: Topology, router: FrrRouter,
               routes: list[str], workdir: Path, timeout: float) -> Result:
    node = topo.nodes[0]
    spec = session(topo, routes)
    family = fam(routes)
    driver = ExaBGPDriver(workdir, [node.ipv4, node.ipv6], exabgp_cmd=cmd, netns=node.netns,
                          log_level="WARNING")
    try:
        driver.start()
        driver.set_peers([spec])
        poll_until(lambda: driver.sessions()[spec.peer_address].up, START_TIMEOUT_S,
                   what="session up")
        wait_idle(router, family, timeout)
        start = time.monotonic()
        driver.set_routes({spec.peer_address: dict.fromkeys(routes, RouteAttrs())})
        finish = until_router_holds(router, len(routes), family, start, timeout)
        # The driver does not say when its last ack came; flush() returning after FRR
        # holds all would only give an upper bound, so the row shows none.
        ack_seconds = None
        with contextlib.suppress(WaitTimeout):
            driver.flush(5)
        return Result(version, "driver", False, finish.bgp_s, ack_seconds,
                      rss_mb(driver.pid) if driver.pid else None, finish.kernel_s)
    finally:
        driver.stop(withdraw=False)
        wait_idle(router, family, timeout)


def fmt(value: float | None, spec: str) -> str:
    return "timeout" if value is None else format(value, spec)


ROW_HEADER = ("FRR holds all s", "+ kernel s", "routes/s (median)", "sender done s",
              "RSS MB", "x baseline (paired)")


def row_cells(row: Row, routes: int, base: Row) -> tuple[str, ...]:
    """The figures every raw injection table shows for one row (ROW_HEADER): min / median /
    max over the rounds, and the ratio to the baseline row paired round by round."""
    seconds = row.column("seconds")
    median = spread(seconds)["median"]
    return (fmt_spread(seconds, ""), fmt_spread(row.column("kernel_seconds"), ""),
            fmt(routes / median if median else None, ".0f"),
            fmt_spread(row.column("ack_seconds"), ""), fmt(row.rss, ".0f"),
            fmt_spread(paired_ratios(seconds, base.column("seconds")), ""))


def interleaved(runners: list[Callable[[Path], Result]], repeat: int, tmp: str,
                label: Callable[[Result], str]) -> list[Row]:
    """`repeat` rounds, each running every runner once in turn (a fresh work directory
    each), so load on the shared machine hits all rows alike and each round gives a
    paired ratio; one Row per runner."""
    rows = [Row([]) for _ in runners]
    for r in range(repeat):
        for runner, row in zip(runners, rows, strict=True):
            result = runner(Path(tempfile.mkdtemp(dir=tmp)))
            row.runs.append(result)
            print(f"# round {r}: {label(result)}: FRR {fmt(result.seconds, '.3f')} s, "
                  f"kernel {fmt(result.kernel_seconds, '.3f')} s", flush=True)
    return rows


def raw_title(routes: int, family: int, target: str, repeat: int) -> str:
    size = 32 if family == 4 else 128
    return (f"{routes} /{size}s, {target}: seconds from the first command until FRR (and then "
            f"the kernel) hold them all, and until the sender took every route; min / median / "
            f"max of {repeat} interleaved rounds; FRR and the kernel polled every "
            f"{POLL_S * 1000:.0f} ms, router idle (FRR and kernel empty) before each run")


@contextlib.contextmanager
def bench_router(prefix: str) -> Iterator[tuple[str, Topology, FrrRouter]]:
    """A temp dir, one router namespace + one node namespace, FRR running in the router;
    all of it gone afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, Topology(1) as topo:
        Path(tmp).chmod(0o711)
        router = FrrRouter(topo.router, RouterConfig(hold_time=30, keepalive=10),
                           state_dir=Path(tmp) / "frr")
        try:
            router.start()
            yield tmp, topo, router
        finally:
            router.stop()


def raw_bench_parser(description: str) -> argparse.ArgumentParser:
    """The options every raw injection bench takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--routes", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5,
                        help="rounds, each running every row once; the table shows min / "
                             "median / max")
    # Default IPv6: /128s from 2001:db8::/32 keep every prefix in documentation space. IPv4
    # (/32s from 198.18.0.0/15, RFC 2544's benchmark range) compares with published /32
    # figures; those prefixes too exist only inside the bench's own namespaces.
    parser.add_argument("--family", type=int, choices=(4, 6), default=6)
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for FRR to count everything, per run")
    return parser


def not_root(bench: str) -> bool:
    if os.geteuid() != 0:
        print(f"{bench} needs root (network namespaces, FRR)", file=sys.stderr)
        return True
    return False


def startup_seconds(cmd: list[str], workdir: Path, timeout: float = 60) -> float:
    """Seconds from starting ExaBGP with the driver's command line (one configuration
    file) until it runs its API process, the moment the driver's relay would start. The
    API process is a shell script that writes to a FIFO the bench waits on."""
    fifo = workdir / "started"
    os.mkfifo(fifo)
    script = workdir / "api.sh"
    script.write_text(f"#!/bin/sh\nexec echo started > {fifo}\n")
    script.chmod(0o700)
    conf = workdir / "exabgp.conf"
    conf.write_text(render_config([], [str(script)]))
    seen = threading.Event()

    def wait_for_api_process() -> None:
        with open(fifo) as reader:  # blocks until the script opens it for writing
            reader.read()
        seen.set()

    waiter = threading.Thread(target=wait_for_api_process, daemon=True)
    start = time.monotonic()
    proc = subprocess.Popen([*cmd, str(conf)], env={**os.environ, **exabgp_env("WARNING")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    waiter.start()
    try:
        if not seen.wait(timeout):
            raise RuntimeError(f"ExaBGP ({' '.join(cmd)}) did not start in {timeout} s")
        return time.monotonic() - start
    finally:
        terminate(proc, 15)
        if not seen.is_set():  # unblock the waiting reader
            with open(fifo, "w"):
                pass


def startup_table(starts: int, report: Report) -> None:
    """Min/median/max of `starts` ExaBGP starts, stock and through the launcher; the two
    alternate so that load on the machine hits both alike."""
    rows = {PINNED: (stock_exabgp_cmd(), []), LEAN: (default_exabgp_cmd(), [])}
    with tempfile.TemporaryDirectory(prefix="exabgp-startup-") as tmp:
        for i in range(starts):
            for name, (cmd, times) in rows.items():
                workdir = Path(tmp) / f"{name}-{i}"
                workdir.mkdir()
                times.append(startup_seconds(cmd, workdir))
    base = statistics.median(rows[PINNED][1])
    report.table("startup", ("ExaBGP", "min s", "median s", "max s", "x stock (median)"),
                 [(name, f"{min(times):.3f}", f"{statistics.median(times):.3f}",
                   f"{max(times):.3f}", f"{statistics.median(times) / base:.2f}")
                  for name, (_cmd, times) in rows.items()],
                 title=f"ExaBGP start-up, {starts} starts each: from exec until it runs its "
                       "API process (driver's command line: one configuration file, no peer)")
    report.set("startup_s", {name: times for name, (_cmd, times) in rows.items()})


def main() -> int:
    parser = raw_bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--versions", default=f"{PINNED},{LEAN},5.0.15")
    parser.add_argument("--modes", default=",".join(dict.fromkeys([m for m, _ in MODES]
                                                                  + ["driver"])),
                        help="command forms to run (each with its group-updates settings)")
    parser.add_argument("--starts", type=int, default=10,
                        help="ExaBGP starts per row of the start-up table (0: no table)")
    parser.add_argument("--startup-only", action="store_true",
                        help="only the start-up table (needs neither root nor FRR)")
    add_json_flag(parser)
    args = parser.parse_args()
    report = Report("exabgp_raw", args)
    if args.starts:
        startup_table(args.starts, report)
    if args.startup_only:
        report.finish()
        return 0
    if not_root("bench/exabgp_raw.py"):
        return 2
    routes = prefixes(args.routes, args.family)
    with bench_router("exabgp-bench-") as (tmp, topo, router):
        runners = []
        for version in args.versions.split(","):
            cmd = exabgp_command(version)
            if cmd is None:
                continue
            for mode, group_updates in [(m, gu) for m, gu in [*MODES, ("driver", False)]
                                        if m in args.modes.split(",")]:
                if mode == "driver":
                    runners.append(functools.partial(run_driver, cmd, version, topo, router,
                                                     routes, timeout=args.timeout))
                else:
                    runners.append(functools.partial(
                        run_raw, cmd, version, mode, group_updates, topo, router, routes,
                        timeout=args.timeout))
        results = interleaved(runners, args.repeat, tmp, lambda r: f"{r.version} {r.mode} "
                              f"group-updates={str(r.group_updates).lower()}")
    table = []
    for row in results:
        r = row.runs[0]
        gu = "-" if r.mode == "driver" else str(r.group_updates).lower()
        table.append((r.version, r.mode, gu, *row_cells(row, args.routes, results[0])))
    report.table("injection", ("ExaBGP", "commands", "group-updates", *ROW_HEADER), table,
                 title=raw_title(args.routes, args.family, "one ExaBGP -> FRR", args.repeat))
    report.set("runs", [[vars(r) for r in row.runs] for row in results])
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
