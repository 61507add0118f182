"""`lab up --containers`: the lab as the kubelet's stand-in. The controller and one
speaker per node run from the image under podman, each from its pod spec in the
rendered manifests (translated by lab/pods.py, nothing added), with what a kubelet
gives every pod: its ServiceAccount token, ca.crt and namespace, the API's in-cluster
address, and readiness awaited through the pod's own probe.

Networking (all on loopback or the lab's 192.0.2.0/24 link):
- a speaker (hostNetwork) runs inside its node's namespace; the controller gets a pod
  namespace of its own, `{prefix}npod` (so `Topology.down` removes it with the nodes);
- the API emulator listens on 127.0.0.1 in the root namespace: a forwarder per pod
  listens on 127.0.0.1:<API port> inside the pod's namespace (the kube-proxy stand-in);
- a forwarder per pod in the root namespace reaches the pod's metrics / probe port, for
  the lab's probes and for Prometheus.
Every process (podman client, forwarders) is a recorded lab process, stopped by PID;
the containers are recorded by name and stopped with `podman stop` first, within their
grace period, while the API is still up.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from lab import podman
from lab.errors import LabError
from lab.netns import add_netns
from lab.objects import node_object
from lab.pods import ContainerRun, NodeFacts, PodSpecError, translate
from lab.processes import LabProcess, spawn
from lab.state import LabState
from metallb.component.labels import CONTROLLER, METRICS_PORT_NAME, NAMESPACE, SPEAKER

FORWARD_RE = re.compile(r"event=forward_listening listen=(127\.0\.0\.1:\d+)")
API_HOST = "127.0.0.1"  # KUBERNETES_SERVICE_HOST inside every pod (the forwarder there)


class Starter(Protocol):
    """The part of lab.cluster's start-up these functions use."""

    state: LabState
    progress: Callable[[str], None]

    def _add(self, process: LabProcess) -> LabProcess: ...
    def _record(self, **changes: Any) -> None: ...
    def _poll(self, condition: Callable[[], Any], what: str) -> Any: ...
    def _wait_log(self, process: LabProcess, pattern: re.Pattern[str]) -> str: ...


def pod_netns(prefix: str) -> str:
    return f"{prefix}npod"


def pod_template(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj.get("kind") == kind and obj.get("metadata", {}).get("name") == name:
            return obj["spec"]["template"]["spec"]
    raise LabError(f"the rendered manifests have no {kind} {name}")


def service_account_dirs(state_dir: Path, api_url: str, cafile: str,
                         accounts: list[str]) -> dict[str, str]:
    """A token per ServiceAccount from the emulator, written where a kubelet would
    project it (token, ca.crt, namespace), one host directory per account."""
    from lab.apiserver.remote import control_call

    dirs = {}
    for account in accounts:
        token = control_call(api_url, "tokens", "POST",
                             {"namespace": NAMESPACE, "name": account}, cafile=cafile)["token"]
        directory = state_dir / "serviceaccounts" / account
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        for filename, content in (("token", token), ("namespace", NAMESPACE),
                                  ("ca.crt", Path(cafile).read_text())):
            (directory / filename).write_text(content)
            (directory / filename).chmod(0o644)
        dirs[account] = str(directory)
    return dirs


def plan_pods(state: LabState, objects: list[dict[str, Any]], api_port: int,
              sa_dirs: dict[str, str]) -> list[tuple[str, ContainerRun]]:
    """(lab process name, container run) for the controller and each node's speaker;
    LabError listing every pod-spec problem before anything starts."""
    controller = pod_template(objects, "Deployment", CONTROLLER)
    speaker = pod_template(objects, "DaemonSet", SPEAKER)
    wanted = [("controller", controller, state.nodes[0], "controller")]
    wanted += [(f"speaker-{n.name}", speaker, n, f"speaker-{n.name}") for n in state.nodes]
    runs, problems = [], []
    for name, spec, node, pod_name in wanted:
        labels = node_object(node.name, node.address, state.router_address)["metadata"]
        facts = NodeFacts(
            node_name=node.name, host_ip=node.address, node_labels=labels["labels"],
            host_netns=f"/run/netns/{node.namespace}",
            pod_netns=f"/run/netns/{pod_netns(state.prefix)}", pod_name=pod_name,
            pod_namespace=NAMESPACE, container_name=f"{state.prefix}-{pod_name}",
            api_host=API_HOST, api_port=api_port, service_account_dirs=sa_dirs,
            labels={podman.LAB_LABEL: state.state_dir})
        try:
            runs.append((name, translate(spec, facts)))
        except PodSpecError as err:
            problems.append(f"pod {pod_name}: {err}")
    if problems:
        raise LabError("--containers: " + "\n".join(problems))
    return runs


def start_pods(starter: Starter, objects: list[dict[str, Any]], api_url: str,
               cafile: str) -> None:
    state = starter.state
    state_dir = Path(state.state_dir)
    api_port = int(api_url.rsplit(":", 1)[1])
    for image in {pod_template(objects, k, n)["containers"][0]["image"]
                  for k, n in (("Deployment", CONTROLLER), ("DaemonSet", SPEAKER))}:
        podman.require_image(image)
    accounts = sorted({pod_template(objects, k, n).get("serviceAccountName", "default")
                       for k, n in (("Deployment", CONTROLLER), ("DaemonSet", SPEAKER))})
    sa_dirs = service_account_dirs(state_dir, api_url, cafile, accounts)
    runs = plan_pods(state, objects, api_port, sa_dirs)
    add_netns(pod_netns(state.prefix))
    metrics: dict[str, str] = {}
    probes: dict[str, list[dict[str, Any]]] = {}
    for name, run in runs:
        netns = Path(run.network_namespace).name
        forward_api = starter._add(spawn(f"forward-api-{name}", _forward_cmd(
            f"{netns}/127.0.0.1:{api_port}", f"127.0.0.1:{api_port}"),
            state_dir / f"forward-api-{name}.log"))
        starter._wait_log(forward_api, FORWARD_RE)
        starter._record(containers=(*starter.state.containers, run.name))
        starter._add(spawn(name, podman.run_command(run.args), state_dir / f"{name}.log",
                           env=podman.environment()))
        port = run.ports.get(METRICS_PORT_NAME) or next(iter(run.ports.values()))
        target = _pod_address(run, state, name)
        forward = starter._add(spawn(f"forward-metrics-{name}", _forward_cmd(
            "127.0.0.1:0", f"{netns}/{target}:{port}"),
            state_dir / f"forward-metrics-{name}.log"))
        metrics[name] = starter._wait_log(forward, FORWARD_RE)
        probes[name] = [{"kind": p.kind, "path": p.path} for p in run.probes
                        if p.port == port]
    starter._record(metrics=metrics, probes=probes)
    for name, _run in runs:
        ready = next((p for p in probes[name] if p["kind"] == "readiness"), None)
        if ready is not None:
            starter._poll(lambda n=name, p=ready: probe(metrics[n], p["path"]) == "200",
                          f"{name}'s readiness probe GET {ready['path']} to answer 200")
        starter.progress(f"{name}: container {dict(runs)[name].name} (podman pid "
                         f"{starter.state.process(name).pid}), metrics {metrics[name]}, "
                         "ready")


def _pod_address(run: ContainerRun, state: LabState, name: str) -> str:
    """Where the pod's port listens inside its namespace: a hostNetwork speaker binds
    its node's address (METALLB_HOST from status.hostIP); other pods bind all."""
    for node in state.nodes:
        if run.network_namespace == f"/run/netns/{node.namespace}":
            return node.address
    return "127.0.0.1"


def _forward_cmd(listen: str, connect: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "lab.portforward", "--listen", listen, "--connect", connect]


def probe(address: str, path: str, timeout: float = 2.0) -> str:
    """One HTTP probe, as the kubelet's: the status code, or what went wrong."""
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as response:
            return str(response.status)
    except urllib.error.HTTPError as err:
        return str(err.code)
    except OSError as err:
        return f"error: {getattr(err, 'reason', err)}"


def stop_containers(state: LabState) -> list[str]:
    """`podman stop` the lab's containers (recorded, and any left with its label), each
    within its pod's grace period, then remove them; returns what was done."""
    if not state.containers:
        return []
    names = sorted(set(state.containers) | set(podman.labelled(state.state_dir)))
    podman.stop(names)
    podman.remove(names)
    return [f"stopped container {n}" for n in names]
