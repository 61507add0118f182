"""apply / re-apply / change / delete against the Kubernetes API emulator, through the
`metallb component` command and the official client."""

from __future__ import annotations

import io
import subprocess
import sys

import kubernetes
import pytest
import yaml

from lab.harness.requires import require_program
from metallb.cli import main
from metallb.component.labels import COMPONENT_SELECTOR, FIELD_MANAGER, NAMESPACE
from metallb.component.render import load_settings, render_objects
from tests.support.apiserver import apiserver, kube_client  # noqa: F401
from tests.support.component import DATA, REPO, SEED_BLOCK, block, write

NO_MONITORING = SEED_BLOCK.replace("service_monitor = true", "service_monitor = false")


@pytest.fixture
def kubeconfig(apiserver, tmp_path):  # noqa: F811
    return str(apiserver.write_kubeconfig(tmp_path / "kubeconfig"))


def _component(capsys, *args: str, stdin: str = "") -> tuple[int, list[str], str]:
    """Run `metallb component ...` in-process; (exit code, stdout lines, stderr)."""
    capsys.readouterr()
    old_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        code = main(["component", *args])
    finally:
        sys.stdin = old_stdin
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def _apply(capsys, kubeconfig, config) -> list[str]:
    code, lines, err = _component(capsys, "apply", "--config", str(config),
                                  "--kubeconfig", kubeconfig)
    assert code == 0, err
    return lines


def _component_objects(client) -> set[tuple[str, str]]:
    """(kind, name) of every labelled object, read with the official typed APIs."""
    core = kubernetes.client.CoreV1Api(client)
    apps = kubernetes.client.AppsV1Api(client)
    rbac = kubernetes.client.RbacAuthorizationV1Api(client)
    listings = {
        "ServiceAccount": core.list_namespaced_service_account(NAMESPACE,
                                                               label_selector=COMPONENT_SELECTOR),
        "ConfigMap": core.list_namespaced_config_map(NAMESPACE, label_selector=COMPONENT_SELECTOR),
        "Service": core.list_namespaced_service(NAMESPACE, label_selector=COMPONENT_SELECTOR),
        "Deployment": apps.list_namespaced_deployment(NAMESPACE,
                                                      label_selector=COMPONENT_SELECTOR),
        "DaemonSet": apps.list_namespaced_daemon_set(NAMESPACE, label_selector=COMPONENT_SELECTOR),
        "Role": rbac.list_namespaced_role(NAMESPACE, label_selector=COMPONENT_SELECTOR),
        "RoleBinding": rbac.list_namespaced_role_binding(NAMESPACE,
                                                         label_selector=COMPONENT_SELECTOR),
        "ClusterRole": rbac.list_cluster_role(label_selector=COMPONENT_SELECTOR),
        "ClusterRoleBinding": rbac.list_cluster_role_binding(label_selector=COMPONENT_SELECTOR),
        "CustomResourceDefinition": kubernetes.client.ApiextensionsV1Api(
            client).list_custom_resource_definition(label_selector=COMPONENT_SELECTOR),
    }
    found = {(kind, item.metadata.name) for kind, listing in listings.items()
             for item in listing.items}
    custom = kubernetes.client.CustomObjectsApi(client)
    for kind, group, version, plural in (
            ("ServiceMonitor", "monitoring.coreos.com", "v1", "servicemonitors"),
            ("PrometheusRule", "monitoring.coreos.com", "v1", "prometheusrules"),
            ("IPAddressPool", "metallb.io", "v1beta1", "ipaddresspools"),
            ("BGPAdvertisement", "metallb.io", "v1beta1", "bgpadvertisements"),
            ("BGPPeer", "metallb.io", "v1beta2", "bgppeers"),
            ("BFDProfile", "metallb.io", "v1beta1", "bfdprofiles"),
            ("Community", "metallb.io", "v1beta1", "communities")):
        try:
            listing = custom.list_namespaced_custom_object(
                group, version, NAMESPACE, plural, label_selector=COMPONENT_SELECTOR)
        except kubernetes.client.exceptions.ApiException as err:
            assert err.status == 404
            continue
        found.update((kind, item["metadata"]["name"]) for item in listing["items"])
    return found


def _expected(tmp_path, text) -> set[tuple[str, str]]:
    objects = render_objects(load_settings(write(tmp_path, text, "expected.lokocfg")))
    return {(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] != "Namespace"}


def _namespace_exists(client) -> bool:
    try:
        kubernetes.client.CoreV1Api(client).read_namespace(NAMESPACE)
    except kubernetes.client.exceptions.ApiException as err:
        assert err.status == 404
        return False
    return True


def _install_prometheus_operator_crds(client) -> None:
    api = kubernetes.client.ApiextensionsV1Api(client)
    for kind, plural, schema_file in (
        ("ServiceMonitor", "servicemonitors", "servicemonitor.schema.yaml"),
        ("PrometheusRule", "prometheusrules", "prometheusrule.schema.yaml"),
    ):
        schema = yaml.safe_load((DATA / schema_file).read_text())
        api.create_custom_resource_definition({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.monitoring.coreos.com"},
            "spec": {
                "group": "monitoring.coreos.com",
                "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                          "listKind": f"{kind}List"},
                "versions": [{"name": "v1", "served": True, "storage": True,
                              "schema": {"openAPIV3Schema": schema}}],
            },
        })


def test_apply_creates_everything_then_reapply_changes_nothing(
        capsys, tmp_path, kubeconfig, kube_client):  # noqa: F811
    config = write(tmp_path, NO_MONITORING)
    first = _apply(capsys, kubeconfig, config)
    assert first[0] == "namespace/metallb-system created"
    assert all(line.endswith(" created") for line in first), first
    assert _component_objects(kube_client) == _expected(tmp_path, NO_MONITORING)

    core = kubernetes.client.CoreV1Api(kube_client)
    config_map = core.read_namespaced_config_map("metallb", NAMESPACE)
    assert "203.0.113.24/29" in config_map.data["config"]
    assert FIELD_MANAGER in {m.manager for m in config_map.metadata.managed_fields}
    before = _component_objects(kube_client)
    before_rv = config_map.metadata.resource_version

    second = _apply(capsys, kubeconfig, config)
    assert len(second) == len(first)
    assert all(line.endswith(" unchanged") for line in second), second
    assert core.read_namespaced_config_map("metallb", NAMESPACE).metadata.resource_version \
        == before_rv
    assert before == _component_objects(kube_client)


def test_reapplied_crds_are_unchanged(capsys, tmp_path, kubeconfig):
    config = write(tmp_path, NO_MONITORING)
    _apply(capsys, kubeconfig, config)
    second = _apply(capsys, kubeconfig, config)
    crds = [line for line in second if line.startswith("customresourcedefinition/")]
    assert len(crds) == 9  # six config kinds, three status kinds
    assert all(line.endswith(" unchanged") for line in crds), crds


CRD_FORMAT = block("packet_peer_autodiscovery = false",
                   'peer {\n peer_address = "192.0.2.1"\n peer_asn = 64512\n my_asn = 64513\n }')


def test_switching_config_format_migrates_by_apply(capsys, tmp_path, kubeconfig,
                                                   kube_client):  # noqa: F811
    configmap_format = CRD_FORMAT.replace("}\n}", '}\n  config_format = "configmap"\n}')
    config = write(tmp_path, configmap_format)
    _apply(capsys, kubeconfig, config)
    assert ("ConfigMap", "metallb") in _component_objects(kube_client)
    assert not {k for k, _n in _component_objects(kube_client)} & {"IPAddressPool", "BGPPeer"}

    write(tmp_path, CRD_FORMAT)
    lines = _apply(capsys, kubeconfig, config)
    assert "configmap/metallb (namespace metallb-system) pruned" in lines, lines
    assert lines.index("ipaddresspool/pool1 (namespace metallb-system) created") < \
        lines.index("configmap/metallb (namespace metallb-system) pruned")
    assert _component_objects(kube_client) == _expected(tmp_path, CRD_FORMAT)
    pool = kubernetes.client.CustomObjectsApi(kube_client).get_namespaced_custom_object(
        "metallb.io", "v1beta1", NAMESPACE, "ipaddresspools", "pool1")
    assert pool["spec"]["addresses"] == ["198.51.100.20/32"]

    write(tmp_path, configmap_format)
    lines = _apply(capsys, kubeconfig, config)
    assert "ipaddresspool/pool1 (namespace metallb-system) pruned" in lines, lines
    assert _component_objects(kube_client) == _expected(tmp_path, configmap_format)


def test_a_bfd_profile_is_applied_and_pruned_with_the_peer_naming_it(
        capsys, tmp_path, kubeconfig, kube_client):  # noqa: F811
    with_bfd = CRD_FORMAT.replace("my_asn = 64513\n", 'my_asn = 64513\n bfd_profile = "fast"\n'
                                  ).replace("}\n}", '}\n  bfd_profile "fast" {\n'
                                            "    transmit_interval = 100\n  }\n}")
    config = write(tmp_path, with_bfd)
    lines = _apply(capsys, kubeconfig, config)
    assert lines.index("bfdprofile/fast (namespace metallb-system) created") < \
        lines.index("bgppeer/peer-192.0.2.1 (namespace metallb-system) created"), lines
    assert _component_objects(kube_client) == _expected(tmp_path, with_bfd)
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    assert custom.get_namespaced_custom_object(
        "metallb.io", "v1beta2", NAMESPACE, "bgppeers", "peer-192.0.2.1")["spec"][
        "bfdProfile"] == "fast"

    write(tmp_path, CRD_FORMAT)
    lines = _apply(capsys, kubeconfig, config)
    assert "bfdprofile/fast (namespace metallb-system) pruned" in lines, lines
    assert _component_objects(kube_client) == _expected(tmp_path, CRD_FORMAT)


def test_changed_config_updates_and_prunes(capsys, tmp_path, kubeconfig, kube_client):  # noqa: F811
    _install_prometheus_operator_crds(kube_client)
    config = write(tmp_path, SEED_BLOCK)
    _apply(capsys, kubeconfig, config)
    assert _component_objects(kube_client) == _expected(tmp_path, SEED_BLOCK)
    assert ("PrometheusRule", "metallb") in _component_objects(kube_client)

    changed = SEED_BLOCK.replace('pool1 = ["198.51.100.20/32"]', 'pool1 = ["198.51.100.64/28"]')
    changed = changed.replace("service_monitor = true", "service_monitor = false")
    write(tmp_path, changed)
    lines = _apply(capsys, kubeconfig, config)
    assert "configmap/metallb (namespace metallb-system) configured" in lines
    for pruned in ("servicemonitor/metallb", "prometheusrule/metallb",
                   "service/controller-monitoring", "service/speaker-monitoring",
                   "configmap/metallb-grafana-dashboard"):
        assert f"{pruned} (namespace metallb-system) pruned" in lines, lines
    assert _component_objects(kube_client) == _expected(tmp_path, changed)
    config_map = kubernetes.client.CoreV1Api(kube_client).read_namespaced_config_map(
        "metallb", NAMESPACE)
    assert "198.51.100.64/28" in config_map.data["config"]
    assert "198.51.100.20/32" not in config_map.data["config"]


def test_apply_takes_back_fields_changed_by_hand(capsys, tmp_path, kubeconfig, kube_client):  # noqa: F811
    config = write(tmp_path, block())
    _apply(capsys, kubeconfig, config)
    apps = kubernetes.client.AppsV1Api(kube_client)
    apps.patch_namespaced_deployment("controller", NAMESPACE, {"spec": {"replicas": 3}})
    lines = _apply(capsys, kubeconfig, config)
    assert "deployment/controller (namespace metallb-system) configured" in lines
    assert apps.read_namespaced_deployment("controller", NAMESPACE).spec.replicas == 1


def test_service_monitor_without_prometheus_operator_is_a_clear_error(
        capsys, tmp_path, kubeconfig, kube_client):  # noqa: F811
    code, _lines, err = _component(capsys, "apply", "--config",
                                   str(write(tmp_path, block("service_monitor = true"))),
                                   "--kubeconfig", kubeconfig)
    assert code == 1
    assert ("does not serve monitoring.coreos.com/v1 PrometheusRule, "
            "monitoring.coreos.com/v1 ServiceMonitor") in err
    assert "install the Prometheus Operator" in err
    assert "Traceback" not in err
    assert not _namespace_exists(kube_client)  # refused before changing anything


def test_delete_works_without_config_and_keeps_foreign_objects(
        capsys, tmp_path, kubeconfig, kube_client):  # noqa: F811
    _apply(capsys, kubeconfig, write(tmp_path, NO_MONITORING))
    core = kubernetes.client.CoreV1Api(kube_client)
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "someone-elses"}})

    code, lines, err = _component(capsys, "delete", "--kubeconfig", kubeconfig, stdin="y\n")
    assert code == 0, err
    assert len(lines) == len(_expected(tmp_path, NO_MONITORING))
    assert all(line.endswith(" deleted") for line in lines), lines
    assert _component_objects(kube_client) == set()
    assert _namespace_exists(kube_client)
    assert core.read_namespaced_config_map("someone-elses", NAMESPACE)

    code, lines, err = _component(capsys, "delete", "--confirm", "--kubeconfig", kubeconfig)
    assert (code, lines) == (0, ["nothing to delete"]), err


def test_delete_namespace(capsys, tmp_path, kubeconfig, kube_client):  # noqa: F811
    _apply(capsys, kubeconfig, write(tmp_path, NO_MONITORING))
    code, lines, err = _component(capsys, "delete", "--confirm", "--delete-namespace",
                                  "--kubeconfig", kubeconfig)
    assert code == 0, err
    assert lines[-1] == "namespace/metallb-system deleted"
    assert _component_objects(kube_client) == set()
    assert not _namespace_exists(kube_client)

    code, lines, err = _component(capsys, "delete", "--confirm", "--delete-namespace",
                                  "--kubeconfig", kubeconfig)
    assert (code, lines) == (0, ["namespace/metallb-system absent"]), err


def test_delete_refuses_without_an_answer(capsys, tmp_path, kubeconfig, kube_client):  # noqa: F811
    _apply(capsys, kubeconfig, write(tmp_path, block()))
    code, lines, err = _component(capsys, "delete", "--kubeconfig", kubeconfig, stdin="")
    assert code == 1 and lines == []
    assert "not deleted" in err
    assert _component_objects(kube_client)  # still there


def test_kubeconfig_from_environment(capsys, tmp_path, kubeconfig, kube_client,  # noqa: F811
                                     monkeypatch):
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, lines, err = _component(capsys, "apply", "--config", str(write(tmp_path, block())))
    assert code == 0, err
    assert lines[0] == "namespace/metallb-system created"
    assert _namespace_exists(kube_client)


def test_plain_kubectl_apply_of_deploy_then_component_delete(
        capsys, tmp_path, kubeconfig, kube_client):  # noqa: F811
    """deploy/metallb.yaml is for `kubectl apply -f` users; the real kubectl applies it
    twice (idempotent), and `metallb component delete` finds those objects by label."""
    require_program("kubectl", "kubernetes-client")
    for expected in ("created", "unchanged"):
        result = subprocess.run(
            ["kubectl", "--kubeconfig", kubeconfig, "apply", "-f",
             str(REPO / "deploy" / "metallb.yaml")],
            capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines and all(line.endswith(f" {expected}") for line in lines), lines
    default = (REPO / "deploy" / "default.lokocfg").read_text()
    assert _component_objects(kube_client) == _expected(tmp_path, default)

    code, lines, err = _component(capsys, "delete", "--confirm", "--delete-namespace",
                                  "--kubeconfig", kubeconfig)
    assert code == 0, err
    assert _component_objects(kube_client) == set()
    assert not _namespace_exists(kube_client)
