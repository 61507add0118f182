"""Bearer tokens and RBAC: a token maps to a ServiceAccount; with enforcement on,
requests are checked against the Roles/ClusterRoles bound to it (403 like the real one)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.apiserver import ApiServer
from lab.harness.requires import require_program
from tests.api.emulator.objects import configmap, namespace, request, service
from tests.support.apiserver import api_client_for

RBAC = "rbac.authorization.k8s.io"


@pytest.fixture
def server():
    with ApiServer(token="admin-token", enforce_rbac=True) as srv:
        yield srv


@pytest.fixture
def admin(server):
    with api_client_for(server) as api:
        core = client.CoreV1Api(api)
        core.create_namespace(namespace("metallb-system"))
        core.create_namespaced_service("default", service("web"))
        core.create_namespaced_config_map("metallb-system", configmap("config"))
        core.create_namespaced_config_map("metallb-system", configmap("secret-ish"))
        yield api


def _as(server, namespace_: str, name: str) -> client.CoreV1Api:
    return client.CoreV1Api(api_client_for(server, server.service_account_token(namespace_,
                                                                                name)))


def _bind(admin, kind: str, name: str, rules: list, subjects: list, ns: str = "") -> None:
    rbac = client.RbacAuthorizationV1Api(admin)
    role = {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": {"name": name},
            "rules": rules}
    ref = {"apiGroup": RBAC, "kind": kind, "name": name}
    binding = {"apiVersion": f"{RBAC}/v1", "kind": f"{kind}Binding",
               "metadata": {"name": name}, "roleRef": ref, "subjects": subjects}
    if kind == "Role":
        rbac.create_namespaced_role(ns, role)
        rbac.create_namespaced_role_binding(ns, binding)
    else:
        rbac.create_cluster_role(role)
        rbac.create_cluster_role_binding(binding)


def _status(call) -> int:
    try:
        call()
    except ApiException as exc:
        return exc.status
    return 200


SA = {"kind": "ServiceAccount", "name": "controller", "namespace": "metallb-system"}


def test_tokens_are_required_and_checked(server, admin):
    with api_client_for(server) as good:
        good.configuration.api_key = {}
        status, body = request(good, "GET", "/api/v1/services")
        assert status == 401 and body["reason"] == "Unauthorized"
    with api_client_for(server, "wrong") as bad:
        assert request(bad, "GET", "/api/v1/services")[0] == 401
    assert request(admin, "GET", "/api/v1/services")[0] == 200


def test_unbound_service_account_is_forbidden_with_real_message(server, admin):
    core = _as(server, "metallb-system", "controller")
    with pytest.raises(ApiException) as err:
        core.list_namespaced_service("default")
    assert err.value.status == 403
    body = json.loads(err.value.body)
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        'services is forbidden: User "system:serviceaccount:metallb-system:controller" '
        'cannot list resource "services" in API group "" in the namespace "default"')


def test_role_binding_grants_only_its_namespace_and_verbs(server, admin):
    _bind(admin, "Role", "reader", [{"apiGroups": [""], "resources": ["services"],
                                     "verbs": ["get", "list", "watch"]}], [SA], "default")
    core = _as(server, "metallb-system", "controller")
    assert [s.metadata.name for s in core.list_namespaced_service("default").items] == ["web"]
    assert _status(lambda: core.read_namespaced_service("web", "default")) == 200
    assert _status(lambda: core.list_namespaced_service("metallb-system")) == 403
    assert _status(lambda: core.list_service_for_all_namespaces()) == 403
    assert _status(lambda: core.create_namespaced_service("default", service("x"))) == 403


def test_status_subresource_is_a_separate_permission(server, admin):
    _bind(admin, "ClusterRole", "status-writer", [
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["services/status"], "verbs": ["update", "patch"]},
    ], [SA])
    core = _as(server, "metallb-system", "controller")
    assert _status(lambda: core.list_service_for_all_namespaces()) == 200
    assert _status(lambda: core.patch_namespaced_service_status("web", "default", {
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}})) == 200
    assert _status(lambda: core.patch_namespaced_service("web", "default", {
        "metadata": {"labels": {"a": "b"}}})) == 403


def test_resource_names_limit_access(server, admin):
    _bind(admin, "Role", "config-reader", [{"apiGroups": [""], "resources": ["configmaps"],
                                            "resourceNames": ["config"], "verbs": ["get"]}],
          [SA], "metallb-system")
    core = _as(server, "metallb-system", "controller")
    assert _status(lambda: core.read_namespaced_config_map("config", "metallb-system")) == 200
    assert _status(lambda: core.read_namespaced_config_map("secret-ish",
                                                           "metallb-system")) == 403
    assert _status(lambda: core.list_namespaced_config_map("metallb-system")) == 403


def test_group_subjects_and_wildcards(server, admin):
    _bind(admin, "ClusterRole", "all-sas", [{"apiGroups": ["*"], "resources": ["*"],
                                             "verbs": ["get"]}],
          [{"kind": "Group", "name": "system:serviceaccounts:metallb-system",
            "apiGroup": RBAC}])
    core = _as(server, "metallb-system", "speaker")
    assert _status(lambda: core.read_namespaced_service("web", "default")) == 200
    other = _as(server, "default", "someone")
    assert _status(lambda: other.read_namespaced_service("web", "default")) == 403


def test_without_enforcement_tokens_only_identify(admin):
    with ApiServer(token="t") as srv:
        core = client.CoreV1Api(api_client_for(srv, srv.service_account_token("a", "b")))
        assert core.list_namespaced_service("default").items == []


def test_control_endpoint_needs_admin(server, admin):
    with api_client_for(server, server.service_account_token("x", "y")) as api:
        assert request(api, "GET", "/_emulator/faults")[0] == 403
    assert request(admin, "GET", "/_emulator/faults")[0] == 200


def test_subject_access_reviews(server, admin):
    _bind(admin, "Role", "reader", [{"apiGroups": [""], "resources": ["services"],
                                     "verbs": ["list"]}], [SA], "default")
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "system:serviceaccount:metallb-system:controller",
                    "resourceAttributes": {"verb": "list", "resource": "services",
                                           "namespace": "default"}}}
    status, body = request(admin, "POST",
                           "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert status == 201 and body["status"]["allowed"] is True
    sar["spec"]["resourceAttributes"]["verb"] = "delete"
    _status, body = request(admin, "POST",
                            "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert body["status"]["allowed"] is False



def test_kubectl_auth_can_i_with_impersonation(make_apiserver, tmp_path):
    """kubectl never sends a bearer token over plain HTTP (client-go only reads user
    credentials for TLS clusters), so this server runs without a token: anonymous is
    admin, and admin may impersonate the ServiceAccount to check its permissions."""
    require_program("kubectl", "kubernetes-client")
    server = make_apiserver(enforce_rbac=True)
    with api_client_for(server) as admin:
        _bind(admin, "Role", "reader", [{"apiGroups": [""], "resources": ["services"],
                                         "verbs": ["list"]}], [SA], "default")
    config = server.write_kubeconfig(tmp_path / "kc")
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"))

    def can_i(*args: str) -> str:
        result = subprocess.run(["kubectl", "--kubeconfig", str(config), "auth", "can-i",
                                 *args, "--as",
                                 "system:serviceaccount:metallb-system:controller"],
                                env=env, capture_output=True, text=True, timeout=60)
        return result.stdout.strip()

    assert can_i("list", "services", "-n", "default") == "yes"
    assert can_i("delete", "services", "-n", "default") == "no"
    assert can_i("list", "services", "-n", "kube-system") == "no"


def test_only_admin_may_impersonate(server, admin):
    as_sa = {"Impersonate-User": "system:serviceaccount:metallb-system:controller"}
    token = server.service_account_token("x", "y")
    with api_client_for(server, token) as api:
        status, body = request(api, "GET", "/api/v1/services", headers=as_sa)
        assert status == 403 and "cannot impersonate" in body["message"]
    status, body = request(admin, "GET", "/api/v1/services", headers=as_sa)
    assert status == 403  # admin acting as the (unbound) ServiceAccount
    assert 'User "system:serviceaccount:metallb-system:controller"' in body["message"]
    assert request(admin, "GET", "/api/v1/services")[0] == 200


def test_kubectl_sends_tokens_over_tls(make_apiserver, tmp_path):
    require_program("kubectl", "kubernetes-client")
    require_program("openssl", "openssl")
    server = make_apiserver(token="admin-token", enforce_rbac=True, tls=True)
    config = server.write_kubeconfig(tmp_path / "kc")
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"))

    def kubectl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", "--kubeconfig", str(config), *args], env=env,
                              capture_output=True, text=True, timeout=60)

    assert kubectl("get", "ns", "default").returncode == 0
    sa_token = server.service_account_token("metallb-system", "speaker")
    denied = kubectl("--token", sa_token, "get", "svc")
    assert denied.returncode == 1
    assert ('User "system:serviceaccount:metallb-system:speaker" cannot list resource '
            '"services"') in denied.stderr
