"""lab/pods.py: a rendered pod spec + node facts -> podman arguments, the kubelet's part
of `lab up --containers`. Each rule is one test; unknown fields are refused, never
dropped."""

from __future__ import annotations

import copy

import pytest

from lab.pods import (
    SERVICE_ACCOUNT_MOUNT,
    NodeFacts,
    PodSpecError,
    quantity,
    translate,
)
from metallb.component.settings import ComponentSettings
from metallb.component.workloads import controller_deployment, speaker_daemonset

SETTINGS = ComponentSettings(address_pools=(("pool1", ("192.0.2.128/25",)),))
FACTS = NodeFacts(
    node_name="node1", host_ip="192.0.2.11", node_labels={"kubernetes.io/os": "linux"},
    host_netns="/run/netns/mlabn1", pod_netns="/run/netns/mlabc", pod_name="speaker-node1",
    pod_namespace="metallb-system", container_name="mlab-speaker-node1",
    api_host="127.0.0.1", api_port=6443,
    service_account_dirs={"speaker": "/lab/sa/speaker", "controller": "/lab/sa/controller"},
    labels={"metallb-lab": "/tmp/lab"})


def speaker_spec() -> dict:
    return copy.deepcopy(speaker_daemonset(SETTINGS)["spec"]["template"]["spec"])


def controller_spec() -> dict:
    return copy.deepcopy(controller_deployment(SETTINGS)["spec"]["template"]["spec"])


def pairs(args: tuple[str, ...], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


# -- the rendered specs translate, and say what the manifests say --------------------

def test_speaker_joins_its_node_namespace_because_it_asks_for_host_network():
    run = translate(speaker_spec(), FACTS)
    assert pairs(run.args, "--network") == ["ns:/run/netns/mlabn1"]
    assert run.network_namespace == "/run/netns/mlabn1"
    assert pairs(run.args, "--hostname") == ["node1"]


def test_controller_gets_the_pod_namespace_because_it_has_no_host_network():
    run = translate(controller_spec(), FACTS)
    assert pairs(run.args, "--network") == ["ns:/run/netns/mlabc"]


def test_security_context_becomes_user_read_only_root_no_caps_no_new_privileges():
    args = translate(speaker_spec(), FACTS).args
    assert pairs(args, "--user") == ["10001:10001"]
    assert "--read-only" in args and "--read-only-tmpfs=false" in args
    assert pairs(args, "--cap-drop") == ["ALL"] and not pairs(args, "--cap-add")
    assert pairs(args, "--security-opt") == ["no-new-privileges"]


def test_field_refs_become_the_node_name_and_host_ip():
    env = pairs(translate(speaker_spec(), FACTS).args, "--env")
    assert "METALLB_NODE_NAME=node1" in env and "METALLB_HOST=192.0.2.11" in env


def test_every_pod_gets_the_api_address_and_its_service_account_mounted_read_only():
    args = translate(controller_spec(), FACTS).args
    assert {"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=6443"} <= set(
        pairs(args, "--env"))
    assert pairs(args, "--volume") == [f"/lab/sa/controller:{SERVICE_ACCOUNT_MOUNT}:ro"]


def test_memory_empty_dirs_become_tmpfs_of_their_size_limit():
    tmpfs = pairs(translate(speaker_spec(), FACTS).args, "--tmpfs")
    assert tmpfs == [f"/var/run/metallb-speaker:rw,size={32 * 2**20},nosuid,nodev,mode=0777",
                     f"/tmp:rw,size={16 * 2**20},nosuid,nodev,mode=0777"]


def test_command_becomes_the_entrypoint_and_args_follow_the_image():
    spec = speaker_spec()
    args = translate(spec, FACTS).args
    container = spec["containers"][0]
    assert pairs(args, "--entrypoint") == ['["metallb-speaker"]']
    image_at = args.index(container["image"])
    assert list(args[image_at + 1:]) == container["args"]


def test_grace_period_resources_and_pull_policy():
    args = translate(speaker_spec(), FACTS).args
    assert pairs(args, "--stop-timeout") == ["30"]
    assert pairs(args, "--memory") == [str(256 * 2**20)]
    assert pairs(args, "--cpu-shares") == ["51"]
    assert "--pull=missing" in args


def test_probes_come_back_for_the_lab_with_named_ports_resolved():
    probes = {p.kind: p for p in translate(speaker_spec(), FACTS).probes}
    assert (probes["readiness"].path, probes["readiness"].port) == ("/readyz", 7472)
    assert (probes["liveness"].path, probes["liveness"].period) == ("/healthz", 10.0)


def test_nothing_the_spec_does_not_say_is_added():
    """Every flag is accounted for by a pod-spec field or a kubelet duty."""
    spec = speaker_spec()
    args = translate(spec, FACTS).args
    podman_args = args[:args.index(spec["containers"][0]["image"])]
    flags = {a.split("=")[0] for a in podman_args if a.startswith("--")}
    assert flags == {"--name", "--label", "--network", "--hostname", "--user",
                     "--security-opt", "--read-only", "--read-only-tmpfs", "--cap-drop",
                     "--cpu-shares", "--memory", "--env", "--tmpfs", "--volume",
                     "--stop-timeout", "--pull", "--entrypoint"}


# -- what the lab cannot give exactly is refused, with where and what ----------------

def _with(change) -> dict:
    spec = speaker_spec()
    change(spec)
    return spec


@pytest.mark.parametrize(("change", "where"), [
    (lambda s: s.update(initContainers=[{}]), "spec.initContainers"),
    (lambda s: s["containers"][0].update(stdin=True), "spec.containers[0].stdin"),
    (lambda s: s["containers"].append(s["containers"][0]), "spec.containers"),
    (lambda s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
     "spec.volumes[2].hostPath"),
    (lambda s: s["volumes"][0]["emptyDir"].pop("medium"), "spec.volumes[0].emptyDir.medium"),
    (lambda s: s["securityContext"].update(seccompProfile={"type": "Localhost"}),
     "spec.securityContext.seccompProfile"),
    (lambda s: s["securityContext"].update(fsGroup=1), "spec.securityContext.fsGroup"),
    (lambda s: s["containers"][0]["env"].append(
        {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}),
     "spec.containers[0].env[2].valueFrom.fieldRef"),
    (lambda s: s["containers"][0]["env"].append(
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}),
     "spec.containers[0].env[2].valueFrom.secretKeyRef"),
    (lambda s: s["nodeSelector"].update({"zone": "a"}), "spec.nodeSelector.zone"),
    (lambda s: s["securityContext"].pop("runAsUser"), "spec.securityContext.runAsUser"),
    (lambda s: s.update(serviceAccountName="nobody"), "spec.serviceAccountName"),
    (lambda s: s["containers"][0]["livenessProbe"].update(exec={"command": ["x"]}),
     "spec.containers[0].livenessProbe.exec"),
    (lambda s: s["containers"][0]["resources"]["limits"].update({"nvidia.com/gpu": 1}),
     "spec.containers[0].resources.limits.nvidia.com/gpu"),
])
def test_a_field_the_lab_cannot_honour_is_refused_with_its_path(change, where):
    with pytest.raises(PodSpecError) as err:
        translate(_with(change), FACTS)
    assert where in str(err.value)


def test_every_problem_is_reported_at_once():
    def two(spec):
        spec["securityContext"]["fsGroup"] = 1
        spec["containers"][0]["stdin"] = True

    with pytest.raises(PodSpecError) as err:
        translate(_with(two), FACTS)
    assert len(err.value.issues) == 2


def test_automount_false_mounts_no_token():
    args = translate(_with(lambda s: s.update(automountServiceAccountToken=False)), FACTS).args
    assert not pairs(args, "--volume")


@pytest.mark.parametrize(("text", "value"), [
    ("32Mi", 32 * 2**20), ("50m", 0.05), ("1", 1), ("2G", 2e9), ("1.5Ki", 1536.0),
    ("lots", None), ("", None),
])
def test_quantities(text, value):
    assert quantity(text) == value
