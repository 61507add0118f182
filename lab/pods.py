"""The kubelet's part of `lab up --containers`, decided without I/O: one pod spec from
the rendered manifests plus the facts of the node it lands on -> the `podman run`
arguments that give the container what a kubelet would, and nothing more.

Every field of the pod spec is either translated or refused: a field this module does
not know (a new volume type, an init container, a Localhost seccomp profile) becomes a
`PodSpecIssue` with its path and value, and `translate` raises once with the whole list,
so the lab never runs a container that silently differs from what users deploy.
Probes are not podman arguments: they come back as `Probe`s for the lab to poll.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_GRACE_SECONDS = 30  # Kubernetes' terminationGracePeriodSeconds default

POD_FIELDS = {"containers", "serviceAccountName", "automountServiceAccountToken",
              "securityContext", "nodeSelector", "tolerations", "hostNetwork", "dnsPolicy",
              "terminationGracePeriodSeconds", "volumes"}
CONTAINER_FIELDS = {"name", "image", "imagePullPolicy", "command", "args", "env", "ports",
                    "livenessProbe", "readinessProbe", "resources", "securityContext",
                    "volumeMounts", "workingDir"}
POD_SECURITY_FIELDS = {"runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile"}
CONTAINER_SECURITY_FIELDS = POD_SECURITY_FIELDS | {
    "allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities", "privileged"}
PROBE_FIELDS = {"httpGet", "initialDelaySeconds", "periodSeconds", "timeoutSeconds",
                "failureThreshold", "successThreshold"}
# The lab has no cluster DNS; the daemons resolve no names. These policies only choose
# which resolver a pod gets, so each is accepted and none changes the container.
DNS_POLICIES = {"ClusterFirst", "ClusterFirstWithHostNet", "Default"}
PULL_POLICIES = {"Always": "always", "IfNotPresent": "missing", "Never": "never"}
QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$")
QUANTITY_FACTORS = {None: 1, "m": 0.001, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


@dataclass(frozen=True)
class NodeFacts:
    """What the kubelet knows about the pod's place: node, network, identity."""

    node_name: str
    host_ip: str
    node_labels: Mapping[str, str]
    host_netns: str  # /run/netns/<node namespace>: where hostNetwork pods run
    pod_netns: str  # /run/netns/<pod namespace>: where the other pods run
    pod_name: str
    pod_namespace: str
    container_name: str  # the podman container's name
    api_host: str  # KUBERNETES_SERVICE_HOST as seen from inside the pod
    api_port: int
    service_account_dirs: Mapping[str, str]  # ServiceAccount -> host dir (token, ca.crt, ...)
    labels: Mapping[str, str] = field(default_factory=dict)  # podman labels (for `down`)


@dataclass(frozen=True)
class Probe:
    kind: str  # "liveness" | "readiness"
    path: str
    port: int
    initial_delay: float
    period: float
    timeout: float
    failure_threshold: int


@dataclass(frozen=True)
class ContainerRun:
    """`podman run` + `args` starts the pod's container; `probes` are the lab's to poll."""

    name: str
    args: tuple[str, ...]
    network_namespace: str
    ports: Mapping[str, int]
    probes: tuple[Probe, ...]
    stop_timeout: int


@dataclass(frozen=True)
class PodSpecIssue:
    path: tuple[str | int, ...]
    problem: str
    value: Any

    def __str__(self) -> str:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return f"spec{where}: {self.problem} (value: {self.value!r})"


class PodSpecError(Exception):
    """The pod spec asks for something the lab cannot give exactly; carries every issue."""

    def __init__(self, issues: list[PodSpecIssue]):
        self.issues = issues
        super().__init__("the pod spec cannot be run as written:\n  "
                         + "\n  ".join(str(i) for i in issues))


def quantity(text: Any) -> float | None:
    """A Kubernetes resource quantity ("32Mi", "50m", "1") as a number; None if malformed."""
    match = QUANTITY_RE.match(str(text))
    if match is None:
        return None
    return float(match.group(1)) * QUANTITY_FACTORS[match.group(2)]


class _Translation:
    """One translate() call: the arguments so far and the issues found so far."""

    def __init__(self, spec: Mapping[str, Any], facts: NodeFacts):
        self.spec = spec
        self.facts = facts
        self.args: list[str] = []
        self.issues: list[PodSpecIssue] = []

    def refuse(self, path: tuple[str | int, ...], problem: str, value: Any) -> None:
        self.issues.append(PodSpecIssue(path, problem, value))

    def known(self, obj: Any, allowed: set[str], path: tuple[str | int, ...]) -> Mapping:
        if not isinstance(obj, Mapping):
            self.refuse(path, "expected an object", obj)
            return {}
        for key in sorted(set(obj) - allowed):
            self.refuse((*path, key), "the lab does not know this field", obj[key])
        return obj


def translate(spec: Mapping[str, Any], facts: NodeFacts) -> ContainerRun:
    """The `podman run` arguments for `spec` (a pod template's spec) on the node of
    `facts`; raises PodSpecError listing every field it cannot honour exactly."""
    t = _Translation(spec, facts)
    t.known(spec, POD_FIELDS, ())
    containers = spec.get("containers") or []
    if len(containers) != 1:
        t.refuse(("containers",), "the lab runs pods of exactly one container", containers)
        raise PodSpecError(t.issues)
    container = t.known(containers[0], CONTAINER_FIELDS, ("containers", 0))
    cpath: tuple[str | int, ...] = ("containers", 0)
    t.args += ["--name", facts.container_name]
    for key, value in sorted(facts.labels.items()):
        t.args += ["--label", f"{key}={value}"]
    _node_selector(t)
    host_network = _network(t)
    _security(t, container, cpath)
    _resources(t, container.get("resources") or {}, (*cpath, "resources"))
    _env(t, container.get("env") or [], host_network, (*cpath, "env"))
    _volumes(t, container.get("volumeMounts") or [], (*cpath, "volumeMounts"))
    _service_account(t)
    ports = _ports(t, container.get("ports") or [], (*cpath, "ports"))
    probes = tuple(p for p in (_probe(t, container, kind, ports, cpath)
                               for kind in ("liveness", "readiness")) if p is not None)
    grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
    if not isinstance(grace, int) or grace < 0:
        t.refuse(("terminationGracePeriodSeconds",), "expected seconds >= 0", grace)
    else:
        t.args += ["--stop-timeout", str(grace)]
    if "workingDir" in container:
        t.args += ["--workdir", str(container["workingDir"])]
    policy = container.get("imagePullPolicy", "IfNotPresent")
    if policy not in PULL_POLICIES:
        t.refuse((*cpath, "imagePullPolicy"), "expected Always, IfNotPresent or Never", policy)
    else:
        t.args += [f"--pull={PULL_POLICIES[policy]}"]
    command, arguments = container.get("command"), container.get("args") or []
    if command is not None:
        t.args += ["--entrypoint", json.dumps([str(c) for c in command])]
    image = container.get("image")
    if not image:
        t.refuse((*cpath, "image"), "a container needs an image", image)
    if t.issues:
        raise PodSpecError(t.issues)
    t.args += [str(image), *[str(a) for a in arguments]]
    return ContainerRun(name=facts.container_name, args=tuple(t.args),
                        network_namespace=facts.host_netns if host_network
                        else facts.pod_netns, ports=ports, probes=probes,
                        stop_timeout=int(grace))


def _node_selector(t: _Translation) -> None:
    for key, value in sorted((t.spec.get("nodeSelector") or {}).items()):
        if t.facts.node_labels.get(key) != value:
            t.refuse(("nodeSelector", key), f"node {t.facts.node_name} does not carry this "
                     "label, so no kubelet would run the pod there", value)


def _network(t: _Translation) -> bool:
    host_network = t.spec.get("hostNetwork", False)
    if not isinstance(host_network, bool):
        t.refuse(("hostNetwork",), "expected true or false", host_network)
    dns = t.spec.get("dnsPolicy", "ClusterFirst")
    if dns not in DNS_POLICIES:
        t.refuse(("dnsPolicy",), f"expected one of {sorted(DNS_POLICIES)}", dns)
    if host_network is True:
        t.args += ["--network", f"ns:{t.facts.host_netns}", "--hostname", t.facts.node_name]
    else:
        t.args += ["--network", f"ns:{t.facts.pod_netns}", "--hostname", t.facts.pod_name]
    return host_network is True


def _security(t: _Translation, container: Mapping[str, Any],
              cpath: tuple[str | int, ...]) -> None:
    pod = t.known(t.spec.get("securityContext") or {}, POD_SECURITY_FIELDS,
                  ("securityContext",))
    own = t.known(container.get("securityContext") or {}, CONTAINER_SECURITY_FIELDS,
                  (*cpath, "securityContext"))
    merged = {**pod, **own}  # the container's own settings win, as in Kubernetes
    user, group = merged.get("runAsUser"), merged.get("runAsGroup")
    if merged.get("runAsNonRoot") and not (isinstance(user, int) and user > 0):
        t.refuse(("securityContext", "runAsUser"), "runAsNonRoot needs a numeric non-zero "
                 "runAsUser here (the lab does not read the image's user)", user)
    if user is not None:
        t.args += ["--user", f"{user}:{group}" if group is not None else str(user)]
    elif group is not None:
        t.refuse(("securityContext", "runAsGroup"), "runAsGroup without runAsUser", group)
    seccomp = (merged.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    if seccomp == "Unconfined":
        t.args += ["--security-opt", "seccomp=unconfined"]
    elif seccomp != "RuntimeDefault":  # RuntimeDefault: podman's own default profile
        t.refuse(("securityContext", "seccompProfile"), "the lab knows RuntimeDefault and "
                 "Unconfined", merged.get("seccompProfile"))
    if own.get("privileged") is True:
        t.args += ["--privileged"]
    if own.get("allowPrivilegeEscalation") is False:
        t.args += ["--security-opt", "no-new-privileges"]
    if own.get("readOnlyRootFilesystem") is True:
        # podman would add tmpfs on /tmp, /run, /var/tmp; only the pod's volumes count.
        t.args += ["--read-only", "--read-only-tmpfs=false"]
    caps = t.known(own.get("capabilities") or {}, {"add", "drop"},
                   (*cpath, "securityContext", "capabilities"))
    for cap in caps.get("drop") or []:
        t.args += ["--cap-drop", str(cap)]
    for cap in caps.get("add") or []:
        t.args += ["--cap-add", str(cap)]


def _resources(t: _Translation, resources: Mapping[str, Any],
               path: tuple[str | int, ...]) -> None:
    t.known(resources, {"requests", "limits"}, path)
    for kind in ("requests", "limits"):
        for name, value in sorted((resources.get(kind) or {}).items()):
            amount = quantity(value)
            if name not in ("cpu", "memory") or amount is None:
                t.refuse((*path, kind, name), "the lab knows cpu and memory quantities",
                         value)
            elif kind == "requests" and name == "cpu":  # the kubelet's cpu.shares
                t.args += ["--cpu-shares", str(max(2, int(amount * 1024)))]
            elif kind == "limits" and name == "cpu":
                t.args += ["--cpus", f"{amount:g}"]
            elif kind == "limits" and name == "memory":
                t.args += ["--memory", str(int(amount))]
            # A memory request only steers scheduling: nothing to give the container.


def _field_ref(t: _Translation, ref: Mapping[str, Any], host_network: bool,
               path: tuple[str | int, ...]) -> str | None:
    facts = t.facts
    values = {
        "spec.nodeName": facts.node_name,
        "status.hostIP": facts.host_ip,
        "metadata.name": facts.pod_name,
        "metadata.namespace": facts.pod_namespace,
        "spec.serviceAccountName": t.spec.get("serviceAccountName", "default"),
    }
    if host_network:
        values["status.podIP"] = facts.host_ip
    field_path = ref.get("fieldPath")
    if field_path not in values:
        t.refuse(path, f"the lab gives the fieldRefs {sorted(values)}", field_path)
        return None
    return values[field_path]


def _env(t: _Translation, env: list[Any], host_network: bool,
         path: tuple[str | int, ...]) -> None:
    # What every kubelet adds: the API's in-cluster address (the client's config reads it).
    pairs = [("KUBERNETES_SERVICE_HOST", t.facts.api_host),
             ("KUBERNETES_SERVICE_PORT", str(t.facts.api_port))]
    for i, item in enumerate(env):
        entry = t.known(item, {"name", "value", "valueFrom"}, (*path, i))
        name = entry.get("name")
        if "valueFrom" in entry:
            source = t.known(entry["valueFrom"], {"fieldRef"}, (*path, i, "valueFrom"))
            ref = t.known(source.get("fieldRef") or {}, {"fieldPath", "apiVersion"},
                          (*path, i, "valueFrom", "fieldRef"))
            value = _field_ref(t, ref, host_network, (*path, i, "valueFrom", "fieldRef"))
        else:
            value = str(entry.get("value", ""))
        if name and value is not None:
            pairs.append((str(name), value))
    for name, value in pairs:
        t.args += ["--env", f"{name}={value}"]


def _volumes(t: _Translation, mounts: list[Any], path: tuple[str | int, ...]) -> None:
    volumes = {v.get("name"): (i, v) for i, v in enumerate(t.spec.get("volumes") or [])
               if isinstance(v, Mapping)}
    used = set()
    for i, item in enumerate(mounts):
        mount = t.known(item, {"name", "mountPath", "readOnly"}, (*path, i))
        name = mount.get("name")
        if name not in volumes:
            t.refuse((*path, i, "name"), "no volume of this name in spec.volumes", name)
            continue
        used.add(name)
        index, volume = volumes[name]
        vpath: tuple[str | int, ...] = ("volumes", index)
        t.known(volume, {"name", "emptyDir"}, vpath)
        empty = t.known(volume.get("emptyDir"), {"medium", "sizeLimit"}, (*vpath, "emptyDir"))
        if empty.get("medium") != "Memory":
            t.refuse((*vpath, "emptyDir", "medium"), "the lab gives emptyDir volumes "
                     "only as memory (medium: Memory -> tmpfs)", empty.get("medium"))
            continue
        options = ["ro" if mount.get("readOnly") else "rw", "nosuid", "nodev", "mode=0777"]
        if "sizeLimit" in empty:
            size = quantity(empty["sizeLimit"])
            if size is None:
                t.refuse((*vpath, "emptyDir", "sizeLimit"), "not a quantity",
                         empty["sizeLimit"])
                continue
            options.insert(1, f"size={int(size)}")
        t.args += ["--tmpfs", f"{mount.get('mountPath')}:{','.join(options)}"]
    for name, (index, volume) in sorted(volumes.items(), key=lambda kv: str(kv[0])):
        if name not in used:  # an unmounted volume gives the container nothing
            t.known(volume, {"name", "emptyDir"}, ("volumes", index))


def _service_account(t: _Translation) -> None:
    if t.spec.get("automountServiceAccountToken", True) is False:
        return
    account = t.spec.get("serviceAccountName", "default")
    directory = t.facts.service_account_dirs.get(account)
    if directory is None:
        t.refuse(("serviceAccountName",), "the lab has no token for this ServiceAccount",
                 account)
        return
    t.args += ["--volume", f"{directory}:{SERVICE_ACCOUNT_MOUNT}:ro"]


def _ports(t: _Translation, ports: list[Any], path: tuple[str | int, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, item in enumerate(ports):
        port = t.known(item, {"name", "containerPort", "protocol"}, (*path, i))
        number = port.get("containerPort")
        if not isinstance(number, int) or port.get("protocol", "TCP") != "TCP":
            t.refuse((*path, i), "the lab knows TCP containerPorts", item)
            continue
        found[str(port.get("name") or number)] = number
    return found


def _probe(t: _Translation, container: Mapping[str, Any], kind: str, ports: dict[str, int],
           cpath: tuple[str | int, ...]) -> Probe | None:
    path = (*cpath, f"{kind}Probe")
    if f"{kind}Probe" not in container:
        return None
    probe = t.known(container[f"{kind}Probe"], PROBE_FIELDS, path)
    get = t.known(probe.get("httpGet"), {"path", "port", "scheme"}, (*path, "httpGet"))
    if get.get("scheme", "HTTP") != "HTTP":
        t.refuse((*path, "httpGet", "scheme"), "the lab probes over plain HTTP",
                 get.get("scheme"))
    port = get.get("port")
    number = port if isinstance(port, int) else ports.get(str(port))
    if number is None:
        t.refuse((*path, "httpGet", "port"), "not a number nor a named containerPort", port)
        return None
    return Probe(kind=kind, path=str(get.get("path", "/")), port=number,
                 initial_delay=float(probe.get("initialDelaySeconds", 0)),
                 period=float(probe.get("periodSeconds", 10)),
                 timeout=float(probe.get("timeoutSeconds", 1)),
                 failure_threshold=int(probe.get("failureThreshold", 3)))
