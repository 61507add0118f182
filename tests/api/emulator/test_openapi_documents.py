"""The OpenAPI documents as clients other than kubectl read them (JSON): schemas in
OpenAPI form (one type per schema, refs into the document), merge keys kept for
strategic-merge clients, CRDs with their own schema, v3 URLs that change with it."""

from __future__ import annotations

import copy
import json

import pytest
from kubernetes import client

from tests.api.emulator.objects import SERVICE_MONITOR_CRD, request

pytest.importorskip("kubernetes_validate", reason="built-in OpenAPI schemas come from "
                    "kubernetes-validate: pip install kubernetes-validate")
SERVICE = "io.k8s.api.core.v1.Service"


def test_v2_holds_the_built_in_schemas_with_their_merge_keys(kube_client):
    status, doc = request(kube_client, "GET", "/openapi/v2")
    assert status == 200 and doc["swagger"] == "2.0"
    definitions = doc["definitions"]
    assert definitions[SERVICE]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Service", "version": "v1"}]
    ports = definitions["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "port"
    assert ports["items"] == {"$ref": "#/definitions/io.k8s.api.core.v1.ServicePort"}
    assert definitions["io.k8s.api.core.v1.ServiceSpec"]["properties"]["type"][
        "type"] == "string"


def test_v3_documents_reference_their_own_components(kube_client):
    status, root = request(kube_client, "GET", "/openapi/v3")
    url = root["paths"]["apis/coordination.k8s.io/v1"]["serverRelativeURL"]
    status, doc = request(kube_client, "GET", url.split("?")[0])
    assert status == 200
    schemas = doc["components"]["schemas"]
    spec = schemas["io.k8s.api.coordination.v1.Lease"]["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": "#/components/schemas/"
                                      "io.k8s.api.coordination.v1.LeaseSpec"}]
    refs = {part.split('"')[0] for part in json.dumps(doc).split("#/components/schemas/")[1:]}
    assert refs <= set(schemas)  # every reference resolves inside the document


def test_custom_kinds_have_their_crd_schema_and_a_new_url_when_it_changes(kube_client):
    ext = client.ApiextensionsV1Api(kube_client)
    crd = copy.deepcopy(SERVICE_MONITOR_CRD)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"] = {"spec": {"type": "object", "description": "first"}}
    ext.create_custom_resource_definition(crd)
    _, root = request(kube_client, "GET", "/openapi/v3")
    first_url = root["paths"]["apis/monitoring.coreos.com/v1"]["serverRelativeURL"]
    _, doc = request(kube_client, "GET", first_url.split("?")[0])
    monitor = doc["components"]["schemas"]["com.coreos.monitoring.v1.ServiceMonitor"]
    assert monitor["properties"]["spec"]["description"] == "first"
    assert monitor["x-kubernetes-group-version-kind"] == [
        {"group": "monitoring.coreos.com", "version": "v1", "kind": "ServiceMonitor"}]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in doc["components"]["schemas"]
    ext.patch_custom_resource_definition(crd["metadata"]["name"], [{
        "op": "replace", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/spec/"
        "description", "value": "second"}])
    _, root = request(kube_client, "GET", "/openapi/v3")
    assert root["paths"]["apis/monitoring.coreos.com/v1"]["serverRelativeURL"] != first_url
