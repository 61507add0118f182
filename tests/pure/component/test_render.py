"""What `render` produces: objects, labels, RBAC, security, and the shipped deploy/."""

from __future__ import annotations

import yaml

from metallb.component.labels import COMMON_LABELS, COMPONENT_LABEL, NAMESPACE
from metallb.component.rbac import CLUSTER_RULES, NAMESPACE_RULES
from metallb.component.render import load_settings, render_yaml
from metallb.config.parse import parse_config_text
from tests.support.component import REPO, SEED_BLOCK, block, find, objects_of

MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule"}


def test_seed_example_renders_every_part(tmp_path):
    objects = objects_of(tmp_path, SEED_BLOCK)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert kinds == [
        ("Namespace", "metallb-system"),
        *(("CustomResourceDefinition", f"{plural}.metallb.io") for plural in (
            "ipaddresspools", "bgppeers", "bgpadvertisements", "communities", "bfdprofiles",
            "l2advertisements", "servicebgpstatuses", "configurationstates",
            "bgpsessionstates")),
        ("ServiceAccount", "controller"), ("ClusterRole", "metallb-system:controller"),
        ("ClusterRoleBinding", "metallb-system:controller"), ("Role", "controller"),
        ("RoleBinding", "controller"),
        ("ServiceAccount", "speaker"), ("ClusterRole", "metallb-system:speaker"),
        ("ClusterRoleBinding", "metallb-system:speaker"), ("Role", "speaker"),
        ("RoleBinding", "speaker"),
        ("ConfigMap", "metallb"), ("Deployment", "controller"), ("DaemonSet", "speaker"),
        ("Service", "controller-monitoring"), ("Service", "speaker-monitoring"),
        ("ServiceMonitor", "metallb"), ("PrometheusRule", "metallb"),
        ("ConfigMap", "metallb-grafana-dashboard"),
    ]


def test_without_service_monitor_no_monitoring_objects(tmp_path):
    objects = objects_of(tmp_path, block())
    assert not MONITORING_KINDS & {o["kind"] for o in objects}
    assert not [o for o in objects if o["kind"] == "Service"]


def test_every_object_carries_the_component_labels(tmp_path):
    for obj in objects_of(tmp_path, SEED_BLOCK):
        labels = obj["metadata"]["labels"]
        assert COMMON_LABELS.items() <= labels.items(), obj["metadata"]
        assert labels.get(COMPONENT_LABEL), obj["metadata"]
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding",
                               "CustomResourceDefinition"):
            assert obj["metadata"]["namespace"] == NAMESPACE


def test_configmap_holds_the_legacy_config(tmp_path):
    config_map = find(objects_of(tmp_path, SEED_BLOCK), "ConfigMap", "metallb")
    config = parse_config_text(config_map["data"]["config"])
    assert [(p.name, [r.source for r in p.ranges]) for p in config.pools] == [
        ("pool1", ["198.51.100.20/32"]), ("pool2", ["203.0.113.16/29", "203.0.113.24/29"])]
    assert all(p.protocol == "bgp" for p in config.pools)
    mapping = config.peer_autodiscovery.from_annotations[0].as_dict()
    assert mapping["peer-address"] == "metal.equinix.com/peer-ip"


def _pod(obj):
    return obj["spec"]["template"]["spec"]


def test_controller_deployment(tmp_path):
    deployment = find(objects_of(tmp_path, SEED_BLOCK), "Deployment", "controller")
    pod = _pod(deployment)
    (container,) = pod["containers"]
    assert container["command"] == ["metallb-controller"]
    assert container["args"] == ["--namespace=metallb-system", "--config=metallb",
                                 "--port=7472", "--log-level=info"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "monitoring"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "monitoring"}
    assert container["ports"][0]["containerPort"] == 7472
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux",
                                   "kubernetes.io/hostname": "worker3"}
    assert pod["tolerations"] == [{"key": "controller_key1", "operator": "Equal",
                                   "value": "value1"}]
    assert pod["serviceAccountName"] == "controller"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_speaker_daemonset(tmp_path):
    daemonset = find(objects_of(tmp_path, SEED_BLOCK), "DaemonSet", "speaker")
    pod = _pod(daemonset)
    (container,) = pod["containers"]
    assert pod["hostNetwork"] is True
    assert container["command"] == ["metallb-speaker"]
    env = {e["name"]: e for e in container["env"]}
    assert env["METALLB_NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["METALLB_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "add" not in container["securityContext"]["capabilities"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "ingress_node": "true",
                                   "node-role.kubernetes.io/node": ""}
    assert pod["tolerations"] == [{"key": "speaker_key1", "operator": "Equal",
                                   "value": "value1"}]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    # ExaBGP's config and socket must be writable: the speaker's default state dir
    assert mounts == {"/var/run/metallb-speaker", "/tmp"}
    volumes = {v["name"] for v in pod["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} == volumes


def test_images_and_log_level(tmp_path):
    objects = objects_of(tmp_path, block('controller_image = "r.test/c:1"',
                                         'speaker_image = "r.test/s:2"', 'log_level = "debug"'))
    controller = _pod(find(objects, "Deployment"))["containers"][0]
    speaker = _pod(find(objects, "DaemonSet"))["containers"][0]
    assert (controller["image"], speaker["image"]) == ("r.test/c:1", "r.test/s:2")
    for container in (controller, speaker):
        assert "--log-level=debug" in container["args"]


def _rules(role) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


READ = ("get", "list", "watch")
METALLB_IO_READ = {("metallb.io", r, v) for r in (
    "ipaddresspools", "bgppeers", "bgpadvertisements", "communities", "bfdprofiles",
    "l2advertisements") for v in READ}


def test_rbac_is_exactly_the_table(tmp_path):
    objects = objects_of(tmp_path, block())
    controller_cluster = _rules(find(objects, "ClusterRole", "metallb-system:controller"))
    assert controller_cluster == {
        ("", "services", v) for v in ("get", "list", "watch", "update", "patch")
    } | {("", "services/status", "patch"), ("", "events", "create"), ("", "events", "patch")
         } | {("", r, v) for r in ("namespaces", "nodes") for v in READ}
    assert _rules(find(objects, "Role", "controller")) == {
        ("", "configmaps", "get"), ("", "configmaps", "list"), ("", "configmaps", "watch"),
        ("coordination.k8s.io", "leases", "get"), ("coordination.k8s.io", "leases", "create"),
        ("coordination.k8s.io", "leases", "update")} | METALLB_IO_READ | {
        ("metallb.io", "configurationstates/status", "patch"),
        ("metallb.io", "ipaddresspools/status", "patch")} | {
        ("metallb.io", "configurationstates", v) for v in ("create", "list", "delete")} | {
        ("metallb.io", r, v) for r in ("servicebgpstatuses", "bgpsessionstates")
        for v in ("list", "delete")}
    speaker_cluster = _rules(find(objects, "ClusterRole", "metallb-system:speaker"))
    assert speaker_cluster == {
        (g, r, v) for g, r in (("", "services"), ("", "nodes"),
                               ("discovery.k8s.io", "endpointslices"))
        for v in ("get", "list", "watch")} | {("", "events", "create"), ("", "events", "patch")}
    assert _rules(find(objects, "Role", "speaker")) == {
        ("", "configmaps", v) for v in READ} | METALLB_IO_READ | {
        ("", "secrets", v) for v in READ} | {
        ("metallb.io", "configurationstates", "create"),
        ("metallb.io", "configurationstates/status", "patch"),
        ("metallb.io", "servicebgpstatuses/status", "patch"),
        ("metallb.io", "bgpsessionstates/status", "patch")} | {
        ("metallb.io", r, v) for r in ("servicebgpstatuses", "bgpsessionstates")
        for v in ("list", "create", "delete")}
    # nothing anywhere may grant wildcards; secrets only to the speaker, in its namespace
    for kind in ("ClusterRole", "Role"):
        for role in (o for o in objects if o["kind"] == kind):
            for group, resource, verb in _rules(role):
                assert "*" not in (group, resource, verb)
                assert resource != "secrets" or (kind, role["metadata"]["name"]) == (
                    "Role", "speaker")
    assert set(CLUSTER_RULES) == set(NAMESPACE_RULES) == {"controller", "speaker"}


def test_bindings_point_at_their_roles_and_accounts(tmp_path):
    objects = objects_of(tmp_path, block())
    for binding in (o for o in objects if o["kind"] in ("ClusterRoleBinding", "RoleBinding")):
        role_kind = binding["kind"].replace("Binding", "")
        find(objects, role_kind, binding["roleRef"]["name"])
        (subject,) = binding["subjects"]
        find(objects, "ServiceAccount", subject["name"])
        assert subject["namespace"] == NAMESPACE


def test_metrics_services_select_the_pods(tmp_path):
    objects = objects_of(tmp_path, SEED_BLOCK)
    for daemon, kind in (("controller", "Deployment"), ("speaker", "DaemonSet")):
        service = find(objects, "Service", f"{daemon}-monitoring")
        pod_labels = find(objects, kind)["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert service["spec"]["ports"][0]["targetPort"] == "monitoring"
    monitor = find(objects, "ServiceMonitor")
    selector = monitor["spec"]["selector"]
    for daemon in ("controller", "speaker"):
        labels = find(objects, "Service", f"{daemon}-monitoring")["metadata"]["labels"]
        assert selector["matchLabels"].items() <= labels.items()
        assert labels[COMPONENT_LABEL] in selector["matchExpressions"][0]["values"]
    assert monitor["spec"]["endpoints"][0]["port"] == "monitoring"


def test_render_is_deterministic_and_parses_back(tmp_path):
    path = tmp_path / "m.lokocfg"
    path.write_text(SEED_BLOCK)
    first = render_yaml(load_settings(path))
    assert first == render_yaml(load_settings(path))
    documents = list(yaml.safe_load_all(first))
    assert [d["kind"] for d in documents] == [o["kind"] for o in objects_of(tmp_path, SEED_BLOCK)]


def test_deploy_directory_is_the_rendering_of_the_default_config():
    rendered = render_yaml(load_settings(REPO / "deploy" / "default.lokocfg"))
    shipped = (REPO / "deploy" / "metallb.yaml").read_text()
    assert shipped == rendered, (
        "deploy/metallb.yaml is out of date: run `metallb component render --config "
        "deploy/default.lokocfg > deploy/metallb.yaml`")


def test_default_config_uses_documentation_ranges():
    settings = load_settings(REPO / "deploy" / "default.lokocfg")
    assert settings.address_pools == (("pool1", ("198.51.100.20/32",)),
                                      ("pool2", ("203.0.113.16/29", "203.0.113.24/29")))


def test_example_config_renders():
    settings = load_settings(REPO / "examples" / "metallb.lokocfg")
    assert settings.controller_tolerations[0].toleration_seconds == 300
