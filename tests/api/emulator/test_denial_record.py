"""The emulator's own record of what RBAC refused: readable from Python and over
`/_emulator/denials`, so tests assert on it instead of searching logs for "403"."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.apiserver import ApiServer, Identity
from lab.apiserver.remote import control_call
from tests.support.apiserver import api_client_for


def test_a_refused_request_is_recorded_with_who_what_and_where():
    with ApiServer(token="admin-token", enforce_rbac=True) as server:
        token = server.service_account_token("default", "reader")
        with api_client_for(server, token) as api:
            with pytest.raises(ApiException) as raised:
                client.CoreV1Api(api).read_namespaced_config_map("settings", "default")
            assert raised.value.status == 403
        with api_client_for(server) as admin:  # the admin is never refused
            client.CoreV1Api(admin).list_namespaced_config_map("default")

        user = Identity.service_account("default", "reader").user
        [denial] = server.denials
        assert (denial.user, denial.verb, denial.group, denial.resource, denial.namespace,
                denial.name) == (user, "get", "", "configmaps", "default", "settings")
        assert json.loads(raised.value.body)["message"] == denial.message
        assert server.denials_of(user) == [denial]
        assert server.denials_of("admin") == []

        over_http = control_call(server.url, "denials", token="admin-token")["denials"]
        assert over_http == [denial.to_dict()]
        control_call(server.url, "denials", "DELETE", token="admin-token")
        assert server.denials == []


def test_the_denial_record_needs_the_admin_token():
    with ApiServer(token="admin-token", enforce_rbac=True) as server:
        token = server.service_account_token("default", "reader")
        with pytest.raises(Exception, match="403"):
            control_call(server.url, "denials", token=token)
