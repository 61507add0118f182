"""Raw GoBGP throughput into FRR, beside the pinned ExaBGP in the same run: how long from
the first injected route until FRR counts all N, so "faster than a GoBGP-based speaker"
is a ratio measured on this machine, not a figure from another one.

    sudo python3 bench/gobgp_raw.py [--routes 10000] [--family 4|6] [--repeat 5]

gobgpd (Debian's `gobgpd`, 3.10) runs in the node namespace, peers with FRR like
bench/exabgp_raw.py's ExaBGP does (node ASN 64513 -> router ASN 64512, hold time 30,
router-id = node IPv4, one address family), only connects out (global `port = -1`) and
serves its gRPC API on 127.0.0.1 inside that namespace. Routes are pushed the way
GoBGP-based speakers (kube-vip, OpenELB, Cilium) push them, through the gRPC API, by a
client process started in the same namespace (the API port is not reachable from the
root namespace); every route is a real BGP announcement from gobgpd, next hop the node's
address. Modes:

- `AddPathStream`: one client stream, requests of 1000 paths each - the faster of the
  two modes here.
- `AddPath`: one unary AddPath per route over one channel, all in flight at once (the
  call GoBGP speakers make, without waiting a round trip per route). This row is bound
  by the Python client (~0.7 s CPU for 10,000 calls); a Go client would do better.

As for ExaBGP's command lines, the client builds its protobuf messages before the clock
starts; the clock starts when it is told to send and stops when FRR counts all routes.
The baseline row is ExaBGP as the speaker runs it (`default_exabgp_cmd()`: the pinned
4.2.25 through speaker/exabgp/launcher/, group-updates on) in the driver's command form.

Not a mode: `gobgp mrt inject global FILE` (feeding an MRT TABLE_DUMP_V2 file through the
Go CLI). In gobgp 3.10 it returns after its last stream.Send without closing the stream,
so the process exits with requests still queued: of 1000 routes only the first ~600
reached gobgpd's RIB, so it cannot be timed to "all routes in FRR".

gobgpd sends one UPDATE per route however the routes come in (FRR counts 10,000 UPDATE
messages for 10,000 routes): its propagateUpdate handles each added path on its own; it
packs NLRIs only in the table dump to a peer whose session just came up.

Bench-only needs, fetched on first use (nothing is added to the project's dependencies):
`grpcio` and `grpcio-tools` are installed with pip into /tmp/metallb-bench-grpc (like
exabgp_raw.py installs other ExaBGP versions into venvs under /tmp); the GoBGP v3 API
protos (api/gobgp.proto, attribute.proto, capability.proto) come from Debian's
`golang-github-osrg-gobgp-dev` of the same version as gobgpd (used where installed,
otherwise `apt-get download`ed and unpacked under that directory), and are compiled with
grpcio-tools into a temporary directory at every run; no generated code is kept.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.exabgp_raw import (
    LEAN,
    ROW_HEADER,
    Result,
    bench_router,
    fam,
    fmt,
    interleaved,
    not_root,
    prefixes,
    raw_bench_parser,
    raw_title,
    row_cells,
    rss_mb,
    run_raw,
    session,
)
from bench.measure import until_router_holds, wait_idle
from bench.report import Report, add_json_flag
from lab.frr import FrrRouter
from lab.netns import Topology
from metallb.childproc import terminate
from metallb.wait import WaitTimeout, poll_until
from speaker.bgp import PeerSpec
from speaker.exabgp.supervisor import default_exabgp_cmd

GRPC_DIR = Path("/tmp/metallb-bench-grpc")
DEV_PACKAGE = "golang-github-osrg-gobgp-dev"
PROTO_SUBDIR = Path("usr/share/gocode/src/github.com/osrg/gobgp/api")
PROTOS = ("gobgp.proto", "attribute.proto", "capability.proto")
API_PORT = 50051  # on 127.0.0.1 inside the node namespace only
BATCH = 1000  # paths per AddPathStream request (as exabgp_raw batches 1000 per command)
MODES = ("AddPathStream", "AddPath")
CLIENT_FLAG = "--inject-client"
ESTABLISHED = 6  # apipb.PeerState.SessionState


# -- bench-only needs ------------------------------------------------------------------
def gobgpd_version() -> str:
    """gobgpd's version, e.g. "3.10.0" (also checks it is installed)."""
    if shutil.which("gobgpd") is None or shutil.which("gobgp") is None:
        raise SystemExit("gobgpd/gobgp not found: apt-get install -y gobgpd "
                         "(scripts/setup.sh installs it)")
    out = subprocess.run(["gobgpd", "--version"], capture_output=True, text=True,
                         check=True).stdout
    match = re.search(r"version (\S+)", out)
    if match is None:
        raise SystemExit(f"cannot read gobgpd's version from {out!r}")
    return match.group(1)


def ensure_grpc() -> Path:
    """grpcio + grpcio-tools in GRPC_DIR (pip --target, first use only): only the proto
    compiler and the client process use them, never the bench's own interpreter."""
    if not (GRPC_DIR / "grpc_tools").is_dir() or not (GRPC_DIR / "grpc").is_dir():
        print(f"# installing grpcio, grpcio-tools into {GRPC_DIR} ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", "--target", str(GRPC_DIR),
                        "grpcio", "grpcio-tools"], check=True, timeout=600)
    return GRPC_DIR


def proto_source(version: str) -> Path:
    """The directory with GoBGP's API protos of gobgpd's version: the installed dev package,
    else the .deb fetched with `apt-get download` and unpacked under GRPC_DIR."""
    installed = Path("/") / PROTO_SUBDIR
    query = subprocess.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", DEV_PACKAGE],
                           capture_output=True, text=True, check=False).stdout
    if query.startswith("install ok installed") and (installed / PROTOS[0]).exists():
        deb_version = query.split()[-1]
        root = installed
    else:
        unpacked = GRPC_DIR / "gobgp-dev"
        root = unpacked / PROTO_SUBDIR
        debs = sorted((GRPC_DIR / "deb").glob(f"{DEV_PACKAGE}_*.deb"))
        if not debs:
            print(f"# apt-get download {DEV_PACKAGE} (for GoBGP's API protos) ...", flush=True)
            (GRPC_DIR / "deb").mkdir(parents=True, exist_ok=True)
            (GRPC_DIR / "deb").chmod(0o777)  # apt's _apt user writes there
            subprocess.run(["apt-get", "download", "-q", DEV_PACKAGE], cwd=GRPC_DIR / "deb",
                           check=True, timeout=300, capture_output=True)
            debs = sorted((GRPC_DIR / "deb").glob(f"{DEV_PACKAGE}_*.deb"))
        deb_version = subprocess.run(["dpkg-deb", "-f", str(debs[-1]), "Version"],
                                     capture_output=True, text=True, check=True).stdout.strip()
        if not (root / PROTOS[0]).exists():
            subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(unpacked)], check=True)
    upstream = deb_version.split("-")[0]
    if upstream.split(".")[0] != version.split(".")[0]:
        raise SystemExit(f"{DEV_PACKAGE} {deb_version} has other major API than gobgpd "
                         f"{version}")
    if upstream != version:
        print(f"# note: protos from {DEV_PACKAGE} {deb_version}, gobgpd is {version}")
    return root


def compile_protos(version: str) -> Path:
    """Python modules for GoBGP's API, generated into a temp dir removed at exit."""
    grpc_dir = ensure_grpc()
    source = proto_source(version)
    out = Path(tempfile.mkdtemp(prefix="gobgp-api-"))
    out.chmod(0o755)
    atexit.register(shutil.rmtree, out, True)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{source}",
                    f"-I{grpc_dir / 'grpc_tools' / '_proto'}", f"--python_out={out}",
                    f"--grpc_python_out={out}", *(str(source / p) for p in PROTOS)],
                   env={**os.environ, "PYTHONPATH": str(grpc_dir)}, check=True)
    return out


# -- gobgpd ------------------------------------------------------------------------------
def gobgpd_config(spec: PeerSpec) -> str:
    """TOML for one active-only session, like exabgp_config.render_config's ExaBGP. gobgpd
    first connects 5-10 s after it starts (a random wait, at least 5 s whatever
    connect-retry says), so each run spends that before its clock starts."""
    afi_safi = "ipv6-unicast" if ":" in spec.peer_address else "ipv4-unicast"
    return "\n".join([
        "[global.config]",
        f"  as = {spec.local_asn}",
        f'  router-id = "{spec.router_id}"',
        "  port = -1  # no listener on 179: connect out only",
        "",
        "[[neighbors]]",
        "  [neighbors.config]",
        f'    neighbor-address = "{spec.peer_address}"',
        f"    peer-as = {spec.peer_asn}",
        "  [neighbors.timers.config]",
        f"    hold-time = {spec.hold_time}",
        f"    keepalive-interval = {max(1, spec.hold_time // 3)}",
        "  [neighbors.transport.config]",
        f'    local-address = "{spec.local_address}"',
        "  [[neighbors.afi-safis]]",
        "    [neighbors.afi-safis.config]",
        f'      afi-safi-name = "{afi_safi}"',
        "",
    ])


def gobgp_cli(netns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, "gobgp", "-u", "127.0.0.1", "-p",
                           str(API_PORT), *args], capture_output=True, text=True, check=False,
                          timeout=30)


def established(proc: subprocess.Popen, netns: str, peer: str) -> bool:
    """gobgpd's own view of the session (`gobgp neighbor PEER -j`); raises if gobgpd died."""
    if proc.poll() is not None:
        raise RuntimeError(f"gobgpd exited with {proc.returncode}")
    out = gobgp_cli(netns, "neighbor", peer, "-j")
    if out.returncode != 0:  # API not serving yet
        return False
    return json.loads(out.stdout).get("state", {}).get("session_state") == ESTABLISHED


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Injector:
    """The gRPC client, a child in the node namespace: builds its messages, says "ready",
    sends on "go", says "done <client CPU s>" when the API call(s) returned."""

    def __init__(self, api_dir: Path, netns: str, mode: str, routes: list[str],
                 next_hop: str, workdir: Path):
        routes_file = workdir / "routes.txt"
        routes_file.write_text("\n".join(routes) + "\n")
        self.log = open(workdir / "client.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, str(Path(__file__).resolve()),
             CLIENT_FLAG, mode, str(API_PORT), next_hop, str(routes_file)],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                filter(None, [str(api_dir), str(GRPC_DIR), os.environ.get("PYTHONPATH")]))},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.ready = threading.Event()
        self.done_at: float | None = None
        self.client_cpu: float | None = None
        self.error: str | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ready"):
                self.ready.set()
            elif line.startswith("done"):
                self.done_at = time.monotonic()
                self.client_cpu = float(line.split()[1])
            elif line.startswith("error"):
                self.error = line.strip()

    def wait_ready(self, timeout: float) -> None:
        poll_until(lambda: self.ready.is_set() or self.proc.poll() is not None, timeout,
                   what="the gRPC client to connect and build its messages")
        if not self.ready.is_set():
            raise RuntimeError(f"gRPC client exited with {self.proc.returncode}; "
                               f"see {self.log.name}")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finished(self) -> bool:
        return self.done_at is not None or self.proc.poll() is not None

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        terminate(self.proc, 10)
        self.log.close()


def run_gobgp(topo: Topology, router: FrrRouter, routes: list[str], workdir: Path,
              timeout: float, mode: str = "AddPathStream", api_dir: Path | None = None,
              version: str | None = None) -> Result:
    """One gobgpd in the node namespace; `routes` pushed through its gRPC API (`mode`);
    seconds = from "go" to FRR counting them all."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    version = version or gobgpd_version()
    api_dir = api_dir or compile_protos(version)
    spec = session(topo, routes)
    family = fam(routes)
    netns = topo.nodes[0].netns
    conf = workdir / "gobgpd.toml"
    conf.write_text(gobgpd_config(spec))
    log = open(workdir / "gobgpd.log", "ab")  # noqa: SIM115 - closed in the finally
    proc = subprocess.Popen(["ip", "netns", "exec", netns, "gobgpd", "-f", str(conf), "-t",
                             "toml", "-p", "-l", "info", "--pprof-disable",
                             "--api-hosts", f"127.0.0.1:{API_PORT}"],
                            stdout=log, stderr=subprocess.STDOUT)
    client: Injector | None = None
    try:
        poll_until(lambda: established(proc, netns, spec.peer_address), 30, interval=0.05,
                   what=f"gobgpd's session to {spec.peer_address} (see {workdir})")
        client = Injector(api_dir, netns, mode, routes, spec.local_address, workdir)
        client.wait_ready(60)
        wait_idle(router, family, timeout)
        daemon_cpu = cpu_seconds(proc.pid)
        start = time.monotonic()
        client.go()
        finish = until_router_holds(router, len(routes), family, start, timeout)
        seconds = finish.bgp_s
        daemon_cpu = cpu_seconds(proc.pid) - daemon_cpu
        ack_seconds = None
        with contextlib.suppress(WaitTimeout):
            poll_until(client.finished, 30, interval=0.01)
        if client.done_at is not None:
            ack_seconds = client.done_at - start
        if client.error:
            raise RuntimeError(f"{mode}: {client.error}")
        print(f"#   {mode}: FRR all {fmt(seconds, '.3f')} s, call returned "
              f"{fmt(ack_seconds, '.3f')} s, CPU gobgpd {daemon_cpu:.2f} s, client "
              f"{fmt(client.client_cpu, '.2f')} s", flush=True)
        return Result(f"gobgp {version}", mode, False, seconds, ack_seconds, rss_mb(proc.pid),
                      finish.kernel_s)
    finally:
        if client is not None:
            client.stop()
        terminate(proc, 15)
        log.close()
        wait_idle(router, family, timeout)


# -- the client (runs in the node namespace, with the generated modules on PYTHONPATH) ----
def client_main(mode: str, port: int, next_hop: str, routes_file: str) -> int:
    """Connect, build every message, print "ready", wait for "go", send, print "done"."""
    # Generated at run time and installed under /tmp: importable only in this child.
    import attribute_pb2
    import gobgp_pb2
    import gobgp_pb2_grpc
    import grpc
    from google.protobuf.any_pb2 import Any

    routes = Path(routes_file).read_text().split()
    v6 = ":" in routes[0]
    family = gobgp_pb2.Family(afi=gobgp_pb2.Family.AFI_IP6 if v6 else gobgp_pb2.Family.AFI_IP,
                              safi=gobgp_pb2.Family.SAFI_UNICAST)

    def packed(message: object) -> Any:
        wrapper = Any()
        wrapper.Pack(message)
        return wrapper

    origin = packed(attribute_pb2.OriginAttribute(origin=0))  # IGP
    ipv4_next_hop = packed(attribute_pb2.NextHopAttribute(next_hop=next_hop))

    def path(prefix: str) -> object:
        address, length = prefix.split("/")
        nlri = packed(attribute_pb2.IPAddressPrefix(prefix=address, prefix_len=int(length)))
        if v6:
            hop = packed(attribute_pb2.MpReachNLRIAttribute(family=family,
                                                            next_hops=[next_hop],
                                                            nlris=[nlri]))
        else:
            hop = ipv4_next_hop
        return gobgp_pb2.Path(family=family, nlri=nlri, pattrs=[origin, hop])

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = gobgp_pb2_grpc.GobgpApiStub(channel)
    paths = [path(p) for p in routes]
    if mode == "AddPathStream":
        requests = [gobgp_pb2.AddPathStreamRequest(table_type=gobgp_pb2.GLOBAL,
                                                   paths=paths[i:i + BATCH])
                    for i in range(0, len(paths), BATCH)]
    else:
        requests = [gobgp_pb2.AddPathRequest(table_type=gobgp_pb2.GLOBAL, path=p)
                    for p in paths]
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    cpu = time.process_time()
    try:
        if mode == "AddPathStream":
            stub.AddPathStream(iter(requests), timeout=300)
        else:
            futures = [stub.AddPath.future(r, timeout=300) for r in requests]
            for future in futures:
                future.result()
    except grpc.RpcError as exc:
        print(f"error {exc.code()} {exc.details()}", flush=True)
        return 1
    print(f"done {time.process_time() - cpu:.3f}", flush=True)
    channel.close()
    return 0


# -- CLI ---------------------------------------------------------------------------------
def main() -> int:
    parser = raw_bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"GoBGP injection modes, comma-separated ({', '.join(MODES)})")
    add_json_flag(parser)
    args = parser.parse_args()
    report = Report("gobgp_raw", args)
    if not_root("bench/gobgp_raw.py"):
        return 2
    modes = args.modes.split(",")
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes {sorted(unknown)}")
    version = gobgpd_version()
    api_dir = compile_protos(version)
    routes = prefixes(args.routes, args.family)
    began = time.monotonic()
    with bench_router("gobgp-bench-") as (tmp, topo, router):
        # the baseline: ExaBGP as the speaker's driver runs it (launcher, group-updates on)
        runners = [functools.partial(run_raw, default_exabgp_cmd(), LEAN, "neighbor-batched",
                                     True, topo, router, routes, timeout=args.timeout)]
        runners += [functools.partial(run_gobgp, topo, router, routes, timeout=args.timeout,
                                      mode=mode, api_dir=api_dir, version=version)
                    for mode in modes]
        results = interleaved(runners, args.repeat, tmp, lambda r: f"{r.version} {r.mode}")
    table = []
    for row in results:
        r = row.runs[0]
        name = f"ExaBGP {r.version}" if r.mode == "neighbor-batched" else r.version
        table.append((name, r.mode, *row_cells(row, args.routes, results[0])))
    report.table("injection", ("speaker", "injection", *ROW_HEADER), table,
                 title=raw_title(args.routes, args.family, "one speaker -> FRR", args.repeat)
                 + f"; whole bench {time.monotonic() - began:.0f} s")
    report.set("runs", [[vars(r) for r in row.runs] for row in results])
    report.finish()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == CLIENT_FLAG:
        raise SystemExit(client_main(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]))
    raise SystemExit(main())
