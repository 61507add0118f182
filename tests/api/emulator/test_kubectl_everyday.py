"""The everyday kubectl commands a new user types, through the real kubectl over TLS,
against the emulator: each succeeds and prints what a real cluster prints (messages,
column headers, cell values).

The imperative `create` commands and `expose` send Kubernetes protobuf; their stored
objects are compared with the JSON kubectl itself prints for `--dry-run=client -o json`,
an oracle independent of the emulator's protobuf decoder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from typing import Any

import pytest
import yaml

from lab.harness.requires import require_program
from metallb.wait import poll_until

AGE = re.compile(r"^\d+s$")
TOKEN = "everyday-admin-token"
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                       "listKind": "WidgetList"},
             "versions": [{
                 "name": "v1", "served": True, "storage": True,
                 "additionalPrinterColumns": [
                     {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                     {"name": "Ready", "type": "string",
                      "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                     {"name": "Color", "type": "string", "jsonPath": ".spec.color",
                      "priority": 1},
                     {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                 "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                     "spec": {"type": "object", "description": "What the widget should be.",
                              "properties": {
                                  "size": {"type": "integer",
                                           "description": "How many parts the widget has."},
                                  "color": {"type": "string"}}},
                     "status": {"type": "object",
                                "x-kubernetes-preserve-unknown-fields": True}}}}}]}}


@pytest.fixture
def kubectl(make_apiserver, tmp_path):
    """run(*args) -> stdout of a kubectl that must succeed; run.server is the emulator."""
    require_program("kubectl", "kubernetes-client")
    server = make_apiserver(tls=True, token=TOKEN, seed=21)
    config = server.write_kubeconfig(tmp_path / "kubeconfig")
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"), HOME=str(tmp_path))
    base = ["kubectl", "--kubeconfig", str(config)]

    def run(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run([*base, *args], env=env, capture_output=True, text=True,
                                timeout=30, input=stdin)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    run.base, run.env = base, env  # type: ignore[attr-defined]
    return run


def _apply(kubectl, *docs: dict[str, Any]) -> None:
    kubectl("create", "-f", "-", stdin=yaml.safe_dump_all(docs))


def _table(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """(header, NAME -> cells) of kubectl's column output, cut at the header's columns."""
    lines = [line for line in text.splitlines() if line.strip()]
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    header = [lines[0][a:b].strip() for a, b in zip(starts, [*starts[1:], None],
                                                      strict=True)]
    rows = [[line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
            for line in lines[1:]]
    return header, {row[0]: row for row in rows}


def _contains(actual: Any, expected: Any, path: str = "") -> None:
    """Every value kubectl would have sent (its dry-run JSON) is in the stored object."""
    if expected is None or expected == {}:
        return  # Go's JSON writes null zero Times and {} for empty structs
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r}"
        for key, value in expected.items():
            _contains(actual.get(key), value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r}"
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            _contains(got, want, f"{path}[{index}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def _created_as_sent(kubectl, *create: str, kind: str, name: str, ns: str = "") -> str:
    """Run `kubectl create ...` (protobuf) and check the object against its dry run."""
    sent = json.loads(kubectl("create", *create, "--dry-run=client", "-o", "json"))
    out = kubectl("create", *create)
    where = ["-n", ns] if ns else []
    stored = json.loads(kubectl("get", kind, name, *where, "-o", "json"))
    _contains(stored, {k: v for k, v in sent.items() if k != "status"})
    return out.strip()


# ------------------------------------------------------------ create (protobuf)

def test_create_service_loadbalancer_and_clusterip_print_as_a_cluster_does(kubectl):
    assert _created_as_sent(kubectl, "service", "loadbalancer", "web", "--tcp=80:8080",
                            kind="svc", name="web") == "service/web created"
    assert _created_as_sent(kubectl, "service", "clusterip", "db", "--tcp=5432",
                            kind="svc", name="db") == "service/db created"
    header, rows = _table(kubectl("get", "svc", "-o", "wide"))
    assert header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE",
                      "SELECTOR"]
    web_ip = kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    node_port = kubectl("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")
    assert rows["web"][:5] == ["web", "LoadBalancer", web_ip, "<pending>",
                               f"80:{node_port}/TCP"]
    assert AGE.match(rows["web"][5]) and rows["web"][6] == "app=web"
    assert rows["db"][1:5] == ["ClusterIP", kubectl(
        "get", "svc", "db", "-o", "jsonpath={.spec.clusterIP}"), "<none>", "5432/TCP"]
    header, _rows = _table(kubectl("get", "svc"))
    assert header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]


def test_create_configmap_secret_namespace_deployment_print_as_a_cluster_does(kubectl):
    assert _created_as_sent(kubectl, "configmap", "settings", "--from-literal=a=1",
                            "--from-literal=b=2", kind="cm",
                            name="settings") == "configmap/settings created"
    assert _created_as_sent(kubectl, "secret", "generic", "creds", "--from-literal=pw=s3cr3t",
                            kind="secret", name="creds") == "secret/creds created"
    assert _created_as_sent(kubectl, "namespace", "demo", kind="ns",
                            name="demo") == "namespace/demo created"
    assert _created_as_sent(kubectl, "deployment", "web", "--image=nginx:1.27",
                            "--replicas=2", "--port=8080", "-n", "demo", kind="deploy",
                            name="web", ns="demo") == "deployment.apps/web created"
    header, rows = _table(kubectl("get", "cm", "settings"))
    assert header == ["NAME", "DATA", "AGE"] and rows["settings"][1] == "2"
    header, rows = _table(kubectl("get", "secret", "creds"))
    assert header == ["NAME", "TYPE", "DATA", "AGE"] and rows["creds"][1:3] == ["Opaque", "1"]
    assert kubectl("get", "secret", "creds", "-o", "jsonpath={.data.pw}") == "czNjcjN0"
    header, rows = _table(kubectl("get", "ns", "demo"))
    assert header == ["NAME", "STATUS", "AGE"] and rows["demo"][1] == "Active"
    header, rows = _table(kubectl("get", "deploy", "-n", "demo", "-o", "wide"))
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                      "IMAGES", "SELECTOR"]
    assert rows["web"][1:4] == ["0/2", "0", "0"]
    assert rows["web"][5:] == ["nginx", "nginx:1.27", "app=web"]


# ------------------------------------------------- expose, scale, label, annotate

def test_expose_scale_label_annotate(kubectl):
    kubectl("create", "deployment", "web", "--image=nginx")
    assert kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080",
                   "--type=LoadBalancer").strip() == "service/web exposed"
    svc = json.loads(kubectl("get", "svc", "web", "-o", "json"))
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    assert kubectl("scale", "deployment", "web", "--replicas=3").strip() == (
        "deployment.apps/web scaled")
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}") == "3"
    assert kubectl("scale", "deployment", "web", "--replicas=0").strip() == (
        "deployment.apps/web scaled")
    assert _table(kubectl("get", "deploy", "web"))[1]["web"][1] == "0/0"
    assert kubectl("label", "svc", "web", "tier=front").strip() == "service/web labeled"
    assert kubectl("annotate", "svc", "web", "owner=team-a").strip() == (
        "service/web annotated")
    meta = json.loads(kubectl("get", "svc", "web", "-o", "json"))["metadata"]
    assert meta["labels"] == {"app": "web", "tier": "front"}
    assert meta["annotations"]["owner"] == "team-a"
    assert kubectl("get", "svc", "-l", "tier=front", "-o", "name").strip() == "service/web"


# ------------------------------------------------------------------------ explain

def _require_builtin_schemas() -> None:
    pytest.importorskip("kubernetes_validate", reason="built-in OpenAPI schemas come from "
                        "kubernetes-validate: pip install kubernetes-validate")


def test_explain_builtin_and_custom_kinds(kubectl):
    _require_builtin_schemas()
    out = kubectl("explain", "service.spec.loadBalancerClass")
    assert re.search(r"KIND:\s+Service", out) and re.search(r"VERSION:\s+v1", out)
    assert "FIELD: loadBalancerClass <string>" in out
    assert "class of the load balancer implementation" in out
    out = kubectl("explain", "deployment.spec.replicas")
    assert re.search(r"GROUP:\s+apps", out) and "FIELD: replicas <integer>" in out
    _apply(kubectl, WIDGET_CRD)
    out = kubectl("explain", "widgets.spec")
    assert re.search(r"GROUP:\s+example.com", out) and re.search(r"KIND:\s+Widget", out)
    assert "What the widget should be." in out
    assert re.search(r"size\s+<integer>", out)
    assert "How many parts" in kubectl("explain", "widget.spec.size")
    # a changed CRD schema changes its document's URL, so kubectl's cache is not stale
    kubectl("patch", "crd", "widgets.example.com", "--type=json", "-p", json.dumps([{
        "op": "replace", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/spec/"
        "properties/size/description", "value": "The number of parts."}]))
    assert "The number of parts." in kubectl("explain", "widget.spec.size")


def test_explain_through_openapi_v2(kubectl):
    """kubectl reads /openapi/v2 only as gnostic protobuf."""
    _require_builtin_schemas()
    out = kubectl("explain", "service.spec.type", "--output=plaintext-openapiv2")
    assert re.search(r"KIND:\s+Service", out) and "FIELD:    type <string>" in out
    out = kubectl("explain", "deployment.spec.strategy", "--recursive",
                  "--output=plaintext-openapiv2")
    assert re.search(r"^\s+maxSurge\s+<string>$", out, re.M)
    _apply(kubectl, WIDGET_CRD)
    out = kubectl("explain", "widgets.spec", "--output=plaintext-openapiv2")
    assert "What the widget should be." in out and re.search(r"size\s+<integer>", out)


# ------------------------------------------------------------ get -o wide, tables

NODE = {"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-a", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": "192.0.2.10"},
                                 {"type": "Hostname", "address": "node-a"}],
                   "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian 12",
                                "kernelVersion": "6.1.0", "containerRuntimeVersion":
                                "containerd://1.7.0", "machineID": "", "systemUUID": "",
                                "bootID": "", "kubeProxyVersion": "", "operatingSystem":
                                "linux", "architecture": "amd64"}}}
EVENT = {"apiVersion": "v1", "kind": "Event",
         "metadata": {"name": "web.1", "namespace": "default"},
         "involvedObject": {"kind": "Service", "name": "web", "namespace": "default"},
         "reason": "IPAllocated", "message": "Assigned IP 192.0.2.1", "type": "Normal",
         "source": {"component": "metallb-controller"}, "count": 2,
         "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"}
SLICE = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
         "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
         "endpoints": [{"addresses": [f"198.51.100.{i}"], "conditions": {"ready": i != 4}}
                       for i in range(1, 5)]}
LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
         "metadata": {"name": "metallb-controller"},
         "spec": {"holderIdentity": "controller-0", "leaseDurationSeconds": 15}}
DAEMONSET = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "speaker"},
             "spec": {"selector": {"matchLabels": {"app": "speaker"}},
                      "template": {"metadata": {"labels": {"app": "speaker"}},
                                   "spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                            "containers": [{"name": "speaker",
                                                            "image": "metallb/speaker"}]}}}}


def test_get_wide_prints_the_real_columns(kubectl):
    _apply(kubectl, NODE, EVENT, SLICE, LEASE, DAEMONSET)
    header, rows = _table(kubectl("get", "nodes", "-o", "wide"))
    assert header == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP",
                      "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    node = rows["node-a"]
    assert node[1:3] == ["Ready", "control-plane"] and AGE.match(node[3])
    assert node[4:] == ["v1.32.0", "192.0.2.10", "<none>", "Debian 12", "6.1.0",
                        "containerd://1.7.0"]
    header, rows = _table(kubectl("get", "events"))
    assert header == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    (event,) = rows.values()
    assert re.match(r"^\d+d", event[0])
    assert event[1:] == ["Normal", "IPAllocated", "service/web", "Assigned IP 192.0.2.1"]
    header, rows = _table(kubectl("get", "events", "-o", "wide"))
    assert header == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE",
                      "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]
    assert [c for c in next(iter(rows.values()))][-5:] == [
        "metallb-controller", "Assigned IP 192.0.2.1", event[0], "2", "web.1"]
    header, rows = _table(kubectl("get", "endpointslices"))
    assert header == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert rows["web-abc"][1:4] == ["IPv4", "8080",
                                    "198.51.100.1,198.51.100.2,198.51.100.3 + 1 more..."]
    header, rows = _table(kubectl("get", "leases"))
    assert header == ["NAME", "HOLDER", "AGE"] and rows["metallb-controller"][1] == (
        "controller-0")
    header, rows = _table(kubectl("get", "ds", "-o", "wide"))
    assert header == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                      "NODE SELECTOR", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert rows["speaker"][1:7] == ["0", "0", "0", "0", "0", "kubernetes.io/os=linux"]
    assert rows["speaker"][8:] == ["speaker", "metallb/speaker", "app=speaker"]


def test_custom_resources_print_their_additional_printer_columns(kubectl):
    _apply(kubectl, WIDGET_CRD)
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"},
              "spec": {"size": 3, "color": "blue"}}
    _apply(kubectl, widget)
    header, rows = _table(kubectl("get", "widgets"))
    assert header == ["NAME", "SIZE", "READY", "AGE"]
    assert rows["w1"][1:3] == ["3", ""] and AGE.match(rows["w1"][3])  # unset: blank
    header, rows = _table(kubectl("get", "widgets", "-o", "wide"))
    assert header == ["NAME", "SIZE", "READY", "COLOR", "AGE"] and rows["w1"][3] == "blue"


# -------------------------------------------------------- describe, delete, watch

def test_describe_and_delete(kubectl):
    _apply(kubectl, NODE)
    kubectl("create", "service", "loadbalancer", "web", "--tcp=80:8080")
    out = kubectl("describe", "svc", "web")
    assert re.search(r"^Name:\s+web$", out, re.M) and re.search(r"^Type:\s+LoadBalancer$",
                                                                 out, re.M)
    assert re.search(r"^TargetPort:\s+8080/TCP$", out, re.M)
    out = kubectl("describe", "node", "node-a")
    assert re.search(r"^Roles:\s+control-plane$", out, re.M)
    assert re.search(r"InternalIP:\s+192.0.2.10", out)
    assert kubectl("cordon", "node-a").strip() == "node/node-a cordoned"
    assert _table(kubectl("get", "nodes"))[1]["node-a"][1] == "Ready,SchedulingDisabled"
    kubectl("create", "deployment", "app", "--image=nginx:1.27")
    out = kubectl("describe", "deployment", "app")  # the server's defaults show
    assert re.search(r"^StrategyType:\s+RollingUpdate$", out, re.M)
    assert re.search(r"^RollingUpdateStrategy:\s+25% max unavailable, 25% max surge$", out,
                     re.M)
    kubectl("create", "namespace", "demo")
    assert kubectl("delete", "deployment", "app").strip() == 'deployment.apps "app" deleted'
    assert kubectl("delete", "svc", "web").strip() == 'service "web" deleted'
    assert kubectl("delete", "namespace", "demo").strip() == 'namespace "demo" deleted'
    assert kubectl("get", "svc", "-o", "name") == ""


def test_get_watch_prints_new_objects_as_rows(kubectl):
    kubectl("create", "configmap", "first", "--from-literal=a=1")
    watch = subprocess.Popen([*kubectl.base, "get", "configmaps", "-w",
                              "--request-timeout=20s"], env=kubectl.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read() -> None:
        for line in watch.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        poll_until(lambda: any(line.startswith("first ") for line in lines), timeout=15,
                   what="the watch lists the existing ConfigMap")
        assert lines[0].split() == ["NAME", "DATA", "AGE"]
        kubectl("create", "configmap", "second", "--from-literal=a=1",
                "--from-literal=b=2")
        row = poll_until(lambda: next((line for line in lines
                                       if line.startswith("second ")), None),
                         timeout=15, what="the watch prints the new ConfigMap")
        assert row.split()[:2] == ["second", "2"]
    finally:
        watch.kill()
        watch.wait(timeout=10)
