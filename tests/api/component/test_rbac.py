"""The rendered RBAC, enforced by the API emulator: each daemon's ServiceAccount can make
exactly the calls in the component's RBAC table and is refused the rest; the real
daemons, running with only their ServiceAccount's tokens, work with the config in the
ConfigMap and with it as metallb.io objects (the speaker's then reading a BGP password
Secret)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import kubernetes
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from lab.apiserver import ApiServer, Identity
from lab.harness.config_objects import converted, install_crds, put_basic_auth_secret, put_objects
from lab.harness.daemons import DaemonProcess
from metallb.childproc import terminate
from metallb.cli import main
from metallb.component.labels import CONTROLLER, NAMESPACE, SPEAKER
from metallb.component.rbac import CLUSTER_RULES, NAMESPACE_RULES
from metallb.wait import poll_until
from tests.support.apiserver import api_client_for
from tests.support.component import REPO, SEED_BLOCK, write

OTHER_NAMESPACE = "demo"
PLURAL_PATHS = {  # resource -> collection path in a namespace (None: cluster-scoped)
    "services": "/api/v1/namespaces/{ns}/services",
    "services/status": "/api/v1/namespaces/{ns}/services",
    "events": "/api/v1/namespaces/{ns}/events",
    "configmaps": "/api/v1/namespaces/{ns}/configmaps",
    "secrets": "/api/v1/namespaces/{ns}/secrets",
    "nodes": "/api/v1/nodes",
    "endpointslices": "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
    "leases": "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
    "namespaces": "/api/v1/namespaces",
    **{plural: f"/apis/metallb.io/{version}/namespaces/{{ns}}/{plural}" for plural, version in (
        ("ipaddresspools", "v1beta1"), ("bgppeers", "v1beta2"), ("bgpadvertisements", "v1beta1"),
        ("communities", "v1beta1"), ("bfdprofiles", "v1beta1"), ("l2advertisements", "v1beta1"),
        ("configurationstates", "v1beta1"), ("servicebgpstatuses", "v1beta1"),
        ("bgpsessionstates", "v1beta1"))},
}
PLURAL_PATHS.update({f"{plural}/status": PLURAL_PATHS[plural] for plural in (
    "ipaddresspools", "configurationstates", "servicebgpstatuses", "bgpsessionstates")})
SUBRESOURCE_VERBS = ("get", "update", "patch")  # what a status subresource answers to
SOURCES = ("configmap", "crds")
# A peer whose password is in a basic-auth Secret; no node matches it, so the speaker
# reads the Secret (an unreadable or missing one makes the config invalid) but opens
# no session.
SECRET_PEER = {
    "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
    "metadata": {"name": "secret-peer", "namespace": NAMESPACE},
    "spec": {"myASN": 64513, "peerASN": 64512, "peerAddress": "192.0.2.1",
             "passwordSecret": {"name": "bgp-auth"},
             "nodeSelectors": [{"matchLabels": {"example.com/no-such-node": "true"}}]}}


@pytest.fixture
def enforcing_server(tmp_path) -> Iterator[ApiServer]:
    with ApiServer(seed=7, token=f"admin-{os.getpid()}", enforce_rbac=True) as server:
        admin_kubeconfig = server.write_kubeconfig(tmp_path / "admin-kubeconfig")
        config = write(tmp_path, SEED_BLOCK.replace("service_monitor = true",
                                                    "service_monitor = false"))
        assert main(["component", "apply", "--config", str(config),
                     "--kubeconfig", str(admin_kubeconfig)]) == 0
        admin = api_client_for(server)
        try:
            kubernetes.client.CoreV1Api(admin).create_namespace(
                {"metadata": {"name": OTHER_NAMESPACE}})
        finally:
            admin.close()
        yield server


def _status(client, method: str, resource: str, namespace: str, name: str = "",
            query: list[tuple[str, str]] | None = None, body=None) -> int:
    """HTTP status of one raw request made with the daemon's credentials."""
    path = PLURAL_PATHS[resource].format(ns=namespace)
    if name:
        path += f"/{name}"
    if resource.endswith("/status"):
        path += "/status"
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = ("application/merge-patch+json" if method == "PATCH"
                                   else "application/json")
    request = client.param_serialize(method, path, query_params=query or [],
                                     header_params=headers, body=body,
                                     auth_settings=["BearerToken"])
    response = client.call_api(*request, _request_timeout=10)
    response.response.close()  # a watch's body would stream; the status is enough
    return response.status


def _try(client, verb: str, resource: str, namespace: str) -> int:
    if verb == "get":
        return _status(client, "GET", resource, namespace, "nothing-here")
    if verb == "list":
        return _status(client, "GET", resource, namespace)
    if verb == "watch":
        return _status(client, "GET", resource, namespace,
                       query=[("watch", "true"), ("timeoutSeconds", "1")])
    if verb == "create":
        return _status(client, "POST", resource, namespace, body={"metadata": {"name": "x"}})
    if verb == "update":
        return _status(client, "PUT", resource, namespace, "nothing-here",
                       body={"metadata": {"name": "nothing-here"}})
    if verb == "patch":
        return _status(client, "PATCH", resource, namespace, "nothing-here", body={})
    if verb == "delete":
        return _status(client, "DELETE", resource, namespace, "nothing-here")
    raise AssertionError(verb)


def _granted(daemon: str) -> set[tuple[str, str, str]]:
    """(resource, verb, scope) the table grants; scope "cluster" or "namespace"."""
    granted = set()
    for scope, table in (("cluster", CLUSTER_RULES), ("namespace", NAMESPACE_RULES)):
        for _groups, resources, verbs in table[daemon]:
            granted.update((r, v, scope) for r in resources for v in verbs)
    return granted


@pytest.mark.parametrize("daemon", [CONTROLLER, SPEAKER])
def test_service_account_can_do_exactly_what_the_table_grants(enforcing_server, daemon):
    token = enforcing_server.service_account_token(NAMESPACE, daemon)
    client = api_client_for(enforcing_server, token)
    granted = _granted(daemon)
    failures = []
    try:
        for resource in PLURAL_PATHS:
            verbs = (SUBRESOURCE_VERBS if "/" in resource else
                     ("get", "list", "watch", "create", "update", "patch", "delete"))
            for verb in verbs:
                for namespace in (NAMESPACE, OTHER_NAMESPACE):
                    allowed = (resource, verb, "cluster") in granted or (
                        namespace == NAMESPACE and (resource, verb, "namespace") in granted)
                    status = _try(client, verb, resource, namespace)
                    if allowed == (status == 403):
                        failures.append(f"{verb} {resource} in {namespace}: HTTP {status}, "
                                        f"expected {'allowed' if allowed else 'forbidden'}")
    finally:
        client.close()
    assert not failures, "\n".join(failures)


def _use_source(server: ApiServer, source: str, *extra: dict) -> list[str]:
    """For "crds": the component's ConfigMap becomes the metallb.io objects (plus `extra`;
    without its peer autodiscovery, which the objects cannot express) and the ConfigMap
    is deleted, so the config can come only from the objects. The daemon's
    --config-source arguments."""
    if source == "configmap":
        return ["--config", "metallb", "--config-source", "configmap"]
    admin = api_client_for(server)
    try:
        core = kubernetes.client.CoreV1Api(admin)
        config = yaml.safe_load(core.read_namespaced_config_map(
            "metallb", NAMESPACE).data["config"])
        config.pop("peer-autodiscovery", None)
        install_crds(admin)
        put_objects(admin, NAMESPACE, [*converted(config, NAMESPACE), *extra])
        core.delete_namespaced_config_map("metallb", NAMESPACE)
    finally:
        admin.close()
    return ["--config-source", "crds"]


def _config_state(custom: kubernetes.client.CustomObjectsApi, name: str) -> dict | None:
    """The status of a daemon's ConfigurationState (None: not written yet)."""
    try:
        return custom.get_namespaced_custom_object(
            "metallb.io", "v1beta1", NAMESPACE, "configurationstates", name).get("status")
    except ApiException as err:
        assert err.status == 404
        return None


@pytest.mark.parametrize("source", SOURCES)
def test_controller_works_with_only_its_service_account(enforcing_server, tmp_path, source):
    source_args = _use_source(enforcing_server, source)
    token = enforcing_server.service_account_token(NAMESPACE, CONTROLLER)
    kubeconfig = enforcing_server.write_kubeconfig(tmp_path / "controller-kubeconfig", token)
    log_path = tmp_path / "controller.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "controller", "--kubeconfig", str(kubeconfig),
             "--namespace", NAMESPACE, *source_args, "--host", "127.0.0.1",
             "--port", "0", "--log-level", "debug"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)})
    admin = api_client_for(enforcing_server)
    try:
        core = kubernetes.client.CoreV1Api(admin)
        core.create_namespaced_service(OTHER_NAMESPACE, {
            "metadata": {"name": "web"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        })

        def assigned():
            assert proc.poll() is None, log_path.read_text()
            status = core.read_namespaced_service_status("web", OTHER_NAMESPACE).status
            ingress = status.load_balancer.ingress if status.load_balancer else None
            return [i.ip for i in ingress] if ingress else None

        ips = poll_until(assigned, timeout=30, what="the controller assigns an address")
        assert ips == ["198.51.100.20"]
        # Events are written from the controller's event thread, after the status.
        reasons = poll_until(lambda: {e.reason for e in core.list_namespaced_event(
            OTHER_NAMESPACE).items}, timeout=30, what="an event from the controller")
        assert "IPAllocated" in reasons
        # Status objects are written from the status thread: ConfigurationState (create
        # + status patch), the pool's status (patch), the Service's condition (update).
        custom = kubernetes.client.CustomObjectsApi(admin)
        poll_until(lambda: (_config_state(custom, "controller") or {}).get(
            "result") == "Valid", timeout=30, what="the controller's ConfigurationState")
        poll_until(lambda: any(c.type == "metallb.io/AddressAssigned" for c in (
            core.read_namespaced_service_status("web", OTHER_NAMESPACE).status.conditions
            or [])), timeout=30, what="the Service's condition")
    finally:
        admin.close()
        terminate(proc, 15)
    assert _refused(enforcing_server, CONTROLLER) == [], log_path.read_text()


def _refused(server: ApiServer, daemon: str) -> list[str]:
    """What the emulator's RBAC refused the daemon's ServiceAccount (its own record, not
    a search of a log full of numbers such as `13:46:33.403`)."""
    return [d.message for d in server.denials_of(Identity.service_account(NAMESPACE,
                                                                          daemon).user)]


@pytest.mark.parametrize("source", SOURCES)
def test_speaker_syncs_with_only_its_service_account(enforcing_server, tmp_path, source):
    """Ready means every watch (services, endpointslices, its node, the config and, with
    the objects, the Secrets) listed successfully, which a missing permission prevents;
    a Valid ConfigurationState means the peer's password Secret was read."""
    admin = api_client_for(enforcing_server)
    if source == "crds":
        put_basic_auth_secret(kubernetes.client.CoreV1Api(admin), NAMESPACE, "bgp-auth",
                              "s3cret")
    source_args = _use_source(enforcing_server, source, SECRET_PEER)
    kubernetes.client.CoreV1Api(admin).create_node({"metadata": {"name": "node-a"}})
    token = enforcing_server.service_account_token(NAMESPACE, SPEAKER)
    kubeconfig = enforcing_server.write_kubeconfig(tmp_path / "speaker-kubeconfig", token)
    speaker = DaemonProcess("speaker", [
        "--node-name", "node-a", "--kubeconfig", str(kubeconfig), "--namespace", NAMESPACE,
        *source_args, "--state-dir", str(tmp_path / "state"),
        "--log-level", "debug"], tmp_path / "speaker.log")
    try:
        def ready() -> bool:
            assert speaker.proc.poll() is None, speaker.log_text()
            return speaker.ready()

        poll_until(ready, timeout=30, what="the speaker's watches sync")
        # Its status writer lists its node's objects, then writes its ConfigurationState.
        custom = kubernetes.client.CustomObjectsApi(admin)
        poll_until(lambda: (_config_state(custom, "speaker-node-a") or {}).get(
            "result") == "Valid", timeout=30, what="the speaker's ConfigurationState")
    finally:
        speaker.stop()
        admin.close()
    assert _refused(enforcing_server, SPEAKER) == [], speaker.log_text()


def test_speaker_state_dir_volume_matches_the_speaker_default():
    from metallb.component.workloads import SPEAKER_STATE_DIR
    from speaker.cli import parse_settings

    state_dir = parse_settings(["--node-name", "node-a"]).state_dir
    assert state_dir.startswith(SPEAKER_STATE_DIR + "/")
