"""The whole system on one machine: `up`, `status` and `down` of the lab.

`up` builds a router namespace running FRR and N node namespaces on one segment, starts
the Kubernetes API emulator, writes the Node objects (Packet-style BGP annotations),
applies the component through the same code as `metallb component apply`, then starts
the controller, one speaker per node (ExaBGP inside the node's namespace) and optionally
Prometheus, all as detached processes logging into the state directory. It returns when
every BGP session is Established. Any failure tears down what was started and becomes a
LabError; `down` removes everything, also after a crash, by PID and by namespace prefix.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lab import prometheus
from lab.errors import LabError
from lab.frr import FRR_LIBDIR, BfdTimers, FrrError
from lab.netns import NetnsError, Topology, list_netns
from lab.objects import node_object, node_status
from lab.operator_crds import needs_operator, operator_crds
from lab.packet import PacketTopology, packet_node_object, session_problem
from lab.ports import DAEMON_METRICS, PROMETHEUS_LISTENING, logged_address
from lab.processes import (
    LabProcess,
    alive,
    orphans,
    pids_referencing,
    spawn,
    stop_all,
)
from lab.routers.base import RouterError
from lab.routers.kinds import DEFAULT_KIND, KINDS, make_router, require_router
from lab.routers.upstream import (
    bfd_report,
    config_of,
    lab_routers,
    open_router,
    router_bfd,
    router_report,
    routers_of,
)
from lab.state import LabNode, LabState, load, save, state_path
from metallb.wait import WaitTimeout, poll_until

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).parent / "data" / "lab.lokocfg"
NAMESPACE = "metallb-system"
MAX_NODES = 8  # the router installs at most 8 ECMP paths (maximum-paths 8)
MARKER = ".metallb-lab"  # only a directory carrying it is ever deleted by `down`
FRR_INSTALL_HINT = "apt-get install -y frr (or run scripts/setup.sh)"
APISERVER_CA_RE = re.compile(r"event=apiserver_listening .* ca=(\S+)")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class UpOptions:
    nodes: int = 3
    config: str | None = None  # a *.lokocfg; None = the lab's copy of the seed example
    prometheus: bool = False
    state_dir: str = "/tmp/metallb-lab"
    prefix: str = "mlab"
    timeout: float = 60.0  # for each wait: API server, metrics ports, sessions
    containers: bool = False  # run the daemons from the image under podman (lab/containers.py)
    router: str = DEFAULT_KIND  # frr, bird or gobgp (lab/routers)
    topology: str = "flat"  # or "packet": two provider routers behind a gateway
    # serve the Prometheus Operator's CRDs, which the seed requires for service_monitor
    prometheus_operator: bool = False
    # "crds": the config as metallb.io objects (lab/config_format.py); "configmap": as
    # the component renders it (the legacy ConfigMap with Packet peer autodiscovery)
    config_format: str = "crds"


# --------------------------------------------------------------------------- checks


def preflight(with_prometheus: bool, router: str = DEFAULT_KIND) -> None:
    """Refuse early, saying how to fix it, when the machine cannot run the lab."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it creates network namespaces): run it as root, "
                       "e.g. sudo python3 -m metallb lab up")
    missing = [str(p) for p in (FRR_LIBDIR / "zebra", FRR_LIBDIR / "bgpd")
               if not os.access(p, os.X_OK)]
    if missing or shutil.which("vtysh") is None:
        raise LabError(f"FRR is not installed ({', '.join(missing) or 'vtysh'} missing): "
                       f"{FRR_INSTALL_HINT}")
    if shutil.which("ip") is None:
        raise LabError("the `ip` command is missing: apt-get install -y iproute2")
    if with_prometheus:
        prometheus.require_prometheus()
    if router not in KINDS:
        raise LabError(f"--router {router}: choose one of {', '.join(KINDS)}")
    from lab.harness.requires import Missing

    try:
        require_router(router)
    except Missing as err:
        raise LabError(f"--router {router}: {err}") from None


def lab_exists(state_dir: str, prefix: str) -> bool:
    """A recorded lab, or namespaces of the lab prefix (a lab without a state file)."""
    return state_path(state_dir).exists() or bool(_lab_namespaces(prefix))


def _lab_namespaces(prefix: str) -> list[str]:
    return [n for n in list_netns(prefix) if re.fullmatch(rf"{prefix}(r\d*|n\d+)", n)]


def load_component_objects(config: str | None) -> list[dict[str, Any]]:
    """Render the component (ConfigError / LabError on bad input) before anything runs."""
    from metallb.component.render import load_settings, render_objects
    from metallb.config.errors import ConfigError

    path = config or str(DEFAULT_CONFIG)
    if not Path(path).exists():
        raise LabError(f"--config {path}: no such file or directory; give a *.lokocfg file "
                       "or a directory of them")
    try:
        return render_objects(load_settings(path))
    except ConfigError as err:
        issues = "\n  ".join(str(i) for i in err.issues)
        raise LabError(f"the component configuration {err.source or path} is invalid "
                       f"(fix it, or leave --config out for the lab's default):\n  {issues}"
                       ) from None


# --------------------------------------------------------------------------------- up


def up(options: UpOptions, progress: Progress = print) -> LabState:
    """Start the lab; on any failure tear everything down and raise LabError."""
    if not 1 <= options.nodes <= MAX_NODES:
        raise LabError(f"--nodes {options.nodes}: must be between 1 and {MAX_NODES} "
                       f"(the router spreads over at most {MAX_NODES} next hops)")
    preflight(options.prometheus, options.router)
    if options.topology not in ("flat", "packet"):
        raise LabError(f"--topology {options.topology}: choose flat or packet")
    if options.config_format not in ("crds", "configmap"):
        raise LabError(f"--config-format {options.config_format}: choose crds or configmap")
    state_dir = str(Path(options.state_dir).absolute())
    if lab_exists(state_dir, options.prefix):
        raise LabError(f"a lab is already up (state dir {state_dir}, namespace prefix "
                       f"{options.prefix}); see `metallb lab status`, or `metallb lab down` "
                       "first")
    objects = load_component_objects(options.config)
    _make_state_dir(Path(state_dir))
    starter = _Starter(options, LabState(state_dir=state_dir, prefix=options.prefix), progress)
    try:
        return starter.run(objects)
    except BaseException as err:
        progress("failed; tearing down what was started")
        teardown(starter.state.state_dir, starter.state.prefix, starter.state)
        if isinstance(err, LabError):
            raise
        if isinstance(err, (FrrError, RouterError, NetnsError, WaitTimeout, OSError)):
            raise LabError(str(err)) from None
        if isinstance(err, Exception):
            raise LabError(f"{type(err).__name__}: {err}") from None
        raise


def _make_state_dir(path: Path) -> None:
    if path.exists() and any(path.iterdir()) and not (path / MARKER).exists():
        raise LabError(f"--state-dir {path}: exists and is not a lab directory; choose an "
                       "empty or new directory")
    for parent in path.absolute().parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise LabError(f"--state-dir {path}: {parent} is not traversable by other users, "
                           "but FRR's daemons run as user frr and must reach the state "
                           f"directory; run `chmod o+x {parent}` or choose a directory "
                           "under /tmp")
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o711)  # FRR's daemons run as user frr and must reach STATE/frr
    (path / MARKER).write_text("created by metallb lab up; removed by metallb lab down\n")


class _Starter:
    """One `up` run; `state` always reflects what is running so far (saved each step)."""

    def __init__(self, options: UpOptions, state: LabState, progress: Progress):
        self.options = options
        self.state = state
        self.progress = progress
        self.dir = Path(state.state_dir)
        self.api_url = self.api_ca = ""  # the emulator's URL and, with TLS, its CA file

    def _record(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)
        save(self.state)

    def _add(self, process: LabProcess) -> LabProcess:
        self._record(processes=(*self.state.processes, process))
        return process

    def run(self, objects: list[dict[str, Any]]) -> LabState:
        save(self.state)
        topology = self._network()
        self._router(topology, router_bfd(config_of(objects)))
        api = self._apiserver()
        try:
            self._cluster_objects(api, objects, topology)
        finally:
            api.close()
        if self.options.containers:
            from lab.containers import start_pods

            start_pods(self, objects, self.api_url, self.api_ca)
        else:
            self._daemons()
        if self.options.prometheus:
            self._prometheus()
        self._sessions()
        self._record(complete=True)
        return self.state

    def _network(self) -> Topology:
        packet = self.options.topology == "packet"
        topology = (PacketTopology if packet else Topology)(self.options.nodes,
                                                             prefix=self.options.prefix)
        nodes = tuple(LabNode(name=f"node{i}", namespace=n.netns, address=n.ipv4)
                      for i, n in enumerate(topology.nodes))
        self._record(router_namespace=topology.router, router_address=topology.router_ipv4,
                     nodes=nodes, topology=self.options.topology)
        topology.up()
        if isinstance(topology, PacketTopology):
            self.progress(f"network (Packet): gateway {topology.router} "
                          f"({topology.router_ipv4}), provider routers "
                          + ", ".join(f"{r.netns} ({r.peer_ip})" for r in topology.routers)
                          + f", {len(nodes)} node namespaces on {topology.link_v4}")
        else:
            self.progress(f"network: router namespace {topology.router} "
                          f"({topology.router_ipv4}), {len(nodes)} node namespaces on "
                          f"{topology.link_v4}")
        return topology

    def _router(self, topology: Topology, bfd: BfdTimers | None) -> None:
        """The upstream router(s); with BFD (bfdd) when a configured peer has a BFD
        profile, so the speakers' BFD sessions have a counterpart."""
        for router, spec in lab_routers(self.options.router, topology, self.dir, bfd):
            if not self.state.routers:  # the first router is the one `router_*` name
                self._record(router_namespace=router.namespace,
                             router_address=router.address, frr_dir=router.state_dir)
            self._record(routers=(*self.state.routers, router))
            make_router(router.kind, router.namespace, spec, router.state_dir).start()
            self.progress(f"router: {router.kind} (AS {spec.asn}) in {router.namespace} at "
                          f"{router.address}, accepting BGP from {topology.link_v4}"
                          + (f" (eBGP multihop {spec.ebgp_multihop}, MD5)"
                             if spec.ebgp_multihop else "")
                          + (f", BFD {bfd.tx}x{bfd.multiplier} ms" if bfd else ""))

    def _apiserver(self) -> Any:
        from metallb.kube.client import load_api_client

        kubeconfig = self.dir / "kubeconfig"
        # Pods get ServiceAccount tokens, sent only over TLS, and exactly their RBAC.
        pods = ["--tls", "--enforce-rbac"] if self.options.containers else []
        process = self._add(spawn("apiserver", [
            sys.executable, "-m", "metallb", "lab", "apiserver", "--port", "0",
            "--kubeconfig", str(kubeconfig), *pods], self.dir / "apiserver.log"))
        self.api_url = self._wait_log(process, re.compile(r"event=apiserver_listening url=(\S+)"))
        if pods:
            self.api_ca = self._wait_log(process, APISERVER_CA_RE)
        self._record(kubeconfig=str(kubeconfig))
        self.progress(f"Kubernetes API emulator: pid {process.pid}, kubeconfig {kubeconfig}")
        return load_api_client(str(kubeconfig))

    def _cluster_objects(self, api: Any, objects: list[dict[str, Any]],
                         topology: Topology) -> None:
        from kubernetes import client

        from lab.config_format import config_summary, with_config_format
        from metallb.component.cluster import ClusterError, ComponentCluster, apply_objects

        core = client.CoreV1Api(api)
        nodes = []
        for i, node in enumerate(self.state.nodes):
            # Packet: node0 as an older CCM left it (peer-ip list), the rest numbered
            nodes.append(packet_node_object(node.name, node.address, numbered=i > 0)
                         if isinstance(topology, PacketTopology) else
                         node_object(node.name, node.address, topology.router_ipv4))
            core.create_node(nodes[-1])
            core.patch_node_status(node.name, node_status(node.name, node.address))
        try:
            objects = with_config_format(objects, nodes, self.options.config_format)
        except ValueError as err:
            raise LabError(f"--config-format crds: the Nodes' peers: {err}") from None
        if self.options.prometheus_operator and needs_operator(objects):
            for crd in operator_crds():
                client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
        try:
            actions = apply_objects(ComponentCluster(api), objects)
        except ClusterError as err:
            raise LabError(f"applying the component failed: {err}") from None
        self.progress(f"cluster: {len(self.state.nodes)} Nodes with metal.equinix.com/* BGP "
                      f"annotations; component applied ({len(actions)} objects, the "
                      f"config as {config_summary(objects)})")

    def _daemons(self) -> None:
        kubeconfig = self.state.kubeconfig
        controller = self._add(spawn("controller", [
            sys.executable, "-m", "controller", "--kubeconfig", kubeconfig,
            "--namespace", NAMESPACE, "--host", "127.0.0.1", "--port", "0"],
            self.dir / "controller.log"))
        speakers = [self._add(spawn_speaker(self.state, node)) for node in self.state.nodes]
        metrics = {}
        for process in (controller, *speakers):
            metrics[process.name] = self._wait_log(process, DAEMON_METRICS)
        self._record(metrics=metrics)
        self.progress(f"controller: pid {controller.pid}, metrics {metrics['controller']}")
        for process in speakers:
            self.progress(f"{process.name}: pid {process.pid}, metrics "
                          f"{metrics[process.name]}")

    def _prometheus(self) -> None:
        process = prometheus.start_prometheus(self.dir / "prometheus", self.state.metrics)
        self._add(process)
        url = "http://" + self._wait_log(process, PROMETHEUS_LISTENING)
        self._record(prometheus_url=url)
        self._poll(lambda: prometheus.ready(url), f"Prometheus ready at {url}")
        self.progress(f"Prometheus: pid {process.pid}, {url} (scraping every 1s)")

    def _sessions(self) -> None:
        wanted = {n.address for n in self.state.nodes}
        for lab_router in self.state.routers:
            router = open_router(lab_router)
            try:
                self._poll(lambda r=router: wanted <= r.established(),
                           f"BGP sessions Established at {lab_router.address} from "
                           f"{', '.join(sorted(wanted))}")
            except LabError as err:
                problems = session_problems(self.state)
                raise LabError("\n".join([str(err), *problems])) from None
        self.progress(f"BGP: {len(wanted) * len(self.state.routers)} sessions Established")

    # -- waiting, while watching that nothing died ---------------------------------------
    def _check_running(self) -> None:
        for process in self.state.processes:
            if not alive(process):
                raise LabError(f"{process.name} (pid {process.pid}) exited during start-up; "
                               f"its log {process.log} ends with:\n{process.log_tail()}")

    def _poll(self, condition: Callable[[], Any], what: str) -> Any:
        def check() -> Any:
            self._check_running()
            return condition()

        try:
            return poll_until(check, self.options.timeout, what=what)
        except WaitTimeout as err:
            raise LabError(f"{err}; logs are in {self.dir}") from None

    def _wait_log(self, process: LabProcess, pattern: re.Pattern[str]) -> str:
        return str(self._poll(lambda: logged_address(process.log, pattern),
                              f"{process.name} to log {pattern.pattern!r}"))


def spawn_speaker(state: LabState, node: LabNode) -> LabProcess:
    """Start `node`'s speaker (ExaBGP inside the node's namespace), log in the state dir.
    Also how bench/e2e.py brings a speaker back after killing it."""
    return spawn(f"speaker-{node.name}", [
        sys.executable, "-m", "speaker", "--node-name", node.name,
        "--kubeconfig", state.kubeconfig, "--namespace", NAMESPACE,
        "--host", "127.0.0.1", "--port", "0", "--exabgp-netns", node.namespace,
        "--state-dir", str(Path(state.state_dir) / f"s-{node.name}")],
        Path(state.state_dir) / f"speaker-{node.name}.log")


def restart_speaker(state_dir: str, node_name: str) -> LabProcess:
    """Stop `node_name`'s speaker if it still runs, start a new one, record it."""
    state = load(state_dir)
    if state is None:
        raise LabError(f"no lab is up in {state_dir}")
    name = f"speaker-{node_name}"
    old = state.process(name)
    if old is not None:
        stop_all([old])
    node = next(n for n in state.nodes if n.name == node_name)
    process = spawn_speaker(state, node)
    save(state.without_process(name).with_process(process))
    return process


# ------------------------------------------------------------------------------- down


def teardown(state_dir: str, prefix: str, state: LabState | None = None) -> list[str]:
    """Stop everything of the lab and remove its namespaces and state directory.
    Idempotent; works from the state file, and without it from the namespace prefix and
    the state directory found in the processes' command lines. Returns what it did."""
    state = state or load(state_dir)
    done: list[str] = []
    if state is not None:
        from lab.containers import stop_containers

        done += stop_containers(state)  # within their grace period, while the API is up
        apiserver = [p for p in state.processes if p.name == "apiserver"]
        first = [p for p in state.processes if p.name != "apiserver"]
        # Speakers withdraw and the controller releases its lease while the API is up.
        for group in (first, apiserver):
            running = [p for p in group if p.running()]
            killed = stop_all(running)
            done += [f"stopped {p.name} (pid {p.pid})" for p in running]
            done += [f"killed {name} (did not exit after SIGTERM)" for name in killed]
        for lab_router in routers_of(state):
            if not Path(lab_router.state_dir).exists():
                continue
            with contextlib.suppress(FrrError, RouterError, OSError, KeyError):
                router = open_router(lab_router)
                if router.pids():
                    router.stop()
                    done.append(f"stopped {lab_router.kind} in {lab_router.namespace}")
    namespaces = _lab_namespaces(prefix)
    Topology(1, prefix=prefix).down()
    done += [f"removed namespace {n}" for n in namespaces]
    leftovers = orphans(p for p in pids_referencing(str(Path(state_dir).absolute()) + "/")
                        if p not in _ancestors())
    if leftovers:
        stop_all(leftovers)
        done += [f"stopped leftover process {p.pid}" for p in leftovers]
    path = Path(state_dir)
    if (path / MARKER).exists() or state_path(path).exists():
        shutil.rmtree(path, ignore_errors=True)
        done.append(f"removed {path}")
    return done


def _ancestors() -> set[int]:
    """This process and its parents: a wrapper whose command line names the state dir
    (e.g. scripts/demo.sh --state-dir ...) is not a lab leftover."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def down(state_dir: str, prefix: str) -> list[str]:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it removes network namespaces): run it as root")
    state = load(state_dir)
    return teardown(str(Path(state_dir).absolute()), state.prefix if state else prefix, state)


# ----------------------------------------------------------------------------- status


def status(state_dir: str) -> dict[str, Any] | None:
    """The lab as it is now (None when no lab is recorded in `state_dir`)."""
    state = load(Path(state_dir).absolute())
    if state is None:
        return None
    router, sessions, router_processes = router_report(state)
    processes = [
        {"name": p.name, "pid": p.pid, "running": p.running(), "log": p.log,
         "metrics": state.metrics.get(p.name)}
        for p in state.processes
    ]
    if state.probes:
        from lab.containers import probe

        for p in processes:
            p["probes"] = {f"{pr['kind']} {pr['path']}": probe(p["metrics"], pr["path"])
                           for pr in state.probes.get(p["name"], [])}
    processes += router_processes
    return {
        "state_dir": state.state_dir,
        "kubeconfig": state.kubeconfig,
        "prefix": state.prefix,
        "complete": state.complete,
        "router": router,
        "nodes": [n.to_json() for n in state.nodes],
        "prometheus_url": state.prometheus_url,
        "pids": [p["pid"] for p in processes if p["running"]],
        "processes": processes,
        "sessions": sessions,
        "bfd_sessions": bfd_report(state),
        "containers": list(state.containers),
        "problems": session_problems(state, sessions),
    }


def session_problems(state: LabState, sessions: list[dict[str, Any]] | None = None
                     ) -> list[str]:
    """In the Packet topology, one line per session that is not Established, naming the
    node and the annotation that holds its password (never the password)."""
    if state.topology != "packet":
        return []
    if sessions is None:
        sessions = router_report(state)[1]
    index = {n.name: i for i, n in enumerate(state.nodes)}
    return [session_problem(s["node"], packet_annotations(s["address"], index[s["node"]]),
                            s["peer"], s["state"])
            for s in sessions if s["state"] != "Established"]


def packet_annotations(address: str, index: int) -> dict[str, str]:
    """The BGP annotations the lab wrote on node `index` of a Packet lab."""
    return packet_node_object("", address, numbered=index > 0)["metadata"]["annotations"]
