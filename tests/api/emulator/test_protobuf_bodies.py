"""Kubernetes protobuf request bodies (`k8s\\0` + runtime.Unknown), as kubectl and
client-go send them, for the kinds whose fields need more than strings: the bodies are
built here by a separate little encoder from the field numbers of the generated.proto
files (k8s.io/api, apimachinery, apiextensions-apiserver v0.32), posted over HTTP, and
read back as JSON."""

from __future__ import annotations

import base64
import json
import struct
import urllib.error
import urllib.request
from typing import Any

import pytest

from lab.apiserver.protobuf import (
    KIND_PACKAGES,
    ProtobufError,
    decode_message,
    encode_varint,
    schema,
)
from lab.apiserver.resources import BUILTIN

PROTOBUF = "application/vnd.kubernetes.protobuf"


# ---------------------------- an encoder, independent of the decoder (but for varints)

def num(field: int, value: int) -> bytes:
    return encode_varint(field << 3) + encode_varint(value)


def msg(field: int, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return encode_varint(field << 3 | 2) + encode_varint(len(payload)) + payload


def text(field: int, value: str | bytes) -> bytes:
    return msg(field, value.encode() if isinstance(value, str) else value)


def double(field: int, value: float) -> bytes:
    return encode_varint(field << 3 | 1) + struct.pack("<d", value)


def entry(field: int, key: str, value: bytes) -> bytes:
    """One map entry: key 1, value 2 (value already encoded as field 2)."""
    return msg(field, text(1, key), value)


def meta(name: str, **labels: str) -> bytes:
    """ObjectMeta as gogo writes it: non-pointer zero fields included."""
    return msg(1, text(1, name), text(2, ""), text(3, ""), text(6, ""), num(7, 0),
               msg(8), *(entry(11, k, text(2, v)) for k, v in labels.items()))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + msg(1, text(1, api_version), text(2, kind)) + text(2, raw) + text(
        3, "") + text(4, "")


def post(server, path: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(server.url + path, data=body, method="POST",
                                     headers={"Content-Type": PROTOBUF,
                                              "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# 2026-01-02T03:04:05Z
SECONDS = 1767323045


# ------------------------------------------------------------------------- kinds

def test_every_served_built_in_kind_has_a_field_table():
    """A kind added to resources.BUILTIN needs protobuf_schema_build.py run again."""
    missing = [rt.kind for rt in BUILTIN
               if f"{KIND_PACKAGES[rt.api_version]}.{rt.kind}" not in schema()]
    assert missing == []


def test_service_int_or_string_ports_and_pointer_booleans(apiserver):
    spec = msg(2, msg(1, text(1, "http"), text(2, "TCP"), num(3, 80), msg(4, num(1, 1),
                                                                       num(2, 0),
                                                                       text(3, "web"))),
               msg(1, text(1, "alt"), text(2, "TCP"), num(3, 81), msg(4, num(1, 0),
                                                                      num(2, 8081))),
               entry(2, "app", text(2, "web")), text(3, ""), text(4, "LoadBalancer"),
               num(13, 0), num(20, 0), text(21, "metallb.io/bgp"))
    code, svc = post(apiserver, "/api/v1/namespaces/default/services",
                     envelope("v1", "Service", meta("web", app="web") + spec))
    assert code == 201, svc
    assert svc["metadata"]["labels"] == {"app": "web"}
    ports = svc["spec"]["ports"]
    assert [p["targetPort"] for p in ports] == ["web", 8081]
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["loadBalancerClass"] == "metallb.io/bgp"
    # a pointer bool sent as false stays false; a plain zero bool is as if unset
    assert svc["spec"]["allocateLoadBalancerNodePorts"] is False
    assert "publishNotReadyAddresses" not in svc["spec"]
    assert svc["spec"]["clusterIP"]  # "" on the wire: unset, so allocated


def test_lease_micro_times_and_event_times(apiserver):
    micro = msg(3, num(1, SECONDS), num(2, 123456789))
    lease = meta("ctl") + msg(2, text(1, "controller-0"), num(2, 15), micro,
                              msg(4, num(1, SECONDS + 1), num(2, 0)), num(5, 0))
    code, got = post(apiserver, "/apis/coordination.k8s.io/v1/namespaces/default/leases",
                     envelope("coordination.k8s.io/v1", "Lease", lease))
    assert code == 201, got
    assert got["spec"] == {"holderIdentity": "controller-0", "leaseDurationSeconds": 15,
                           "acquireTime": "2026-01-02T03:04:05.123456Z",
                           "renewTime": "2026-01-02T03:04:06.000000Z",
                           "leaseTransitions": 0}
    event = meta("web.1") + msg(2, text(1, "Service"), text(2, "default"), text(3, "web")) \
        + text(3, "IPAllocated") + text(4, "Assigned IP") + msg(6, num(1, SECONDS)) \
        + msg(7) + num(8, 3) + text(9, "Normal") + msg(10, num(1, SECONDS), num(2, 5000))
    code, got = post(apiserver, "/api/v1/namespaces/default/events",
                     envelope("v1", "Event", event))
    assert code == 201, got
    assert got["firstTimestamp"] == "2026-01-02T03:04:05Z"
    assert "lastTimestamp" not in got  # a zero Time (empty message) is unset
    assert got["eventTime"] == "2026-01-02T03:04:05.000005Z"
    assert (got["count"], got["involvedObject"]["name"]) == (3, "web")


def test_node_quantities_and_configmap_bytes(apiserver):
    status = msg(3, entry(1, "cpu", msg(2, text(1, "4"))), entry(1, "memory", msg(
        2, text(1, "8Gi"))), msg(5, text(1, "InternalIP"), text(2, "192.0.2.10")))
    code, node = post(apiserver, "/api/v1/nodes", envelope("v1", "Node", meta("n1") + status))
    assert code == 201, node
    assert node["status"]["capacity"] == {"cpu": "4", "memory": "8Gi"}
    assert node["status"]["addresses"] == [{"type": "InternalIP", "address": "192.0.2.10"}]
    cm = meta("blob") + entry(2, "text", text(2, "hello")) + entry(3, "raw", text(
        2, b"\x00\xff"))
    code, got = post(apiserver, "/api/v1/namespaces/default/configmaps",
                     envelope("v1", "ConfigMap", cm))
    assert code == 201, got
    assert got["data"] == {"text": "hello"}
    assert got["binaryData"] == {"raw": base64.b64encode(b"\x00\xff").decode()}


def test_endpoint_slice_false_conditions_and_zero_replicas_survive(apiserver):
    slice_ = meta("web-1") + text(4, "IPv4") + msg(2, text(1, "198.51.100.1"), msg(
        2, num(1, 0), num(2, 1))) + msg(3, text(1, "http"), num(3, 8080))
    code, got = post(apiserver, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                     envelope("discovery.k8s.io/v1", "EndpointSlice", slice_))
    assert code == 201, got
    assert got["endpoints"][0]["conditions"] == {"ready": False, "serving": True}
    template = msg(3, msg(1, text(1, ""), msg(8), entry(11, "app", text(2, "d"))),
                   msg(2, msg(2, text(1, "c"), text(2, "nginx:1.27"))))
    deployment = meta("d") + msg(2, num(1, 0), msg(2, entry(1, "app", text(2, "d"))),
                                 template, num(5, 0))
    code, got = post(apiserver, "/apis/apps/v1/namespaces/default/deployments",
                     envelope("apps/v1", "Deployment", deployment))
    assert code == 201, got
    assert got["spec"]["replicas"] == 0  # *int32: an explicit zero is kept
    assert "minReadySeconds" not in got["spec"]  # int32 with omitempty: zero is unset
    assert got["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_custom_resource_definition_schema_types(apiserver):
    size = msg(2, text(4, "How many."), text(5, "integer"), msg(8, text(1, b"3")),
               double(9, 10.0), msg(20, text(1, b"1")), msg(20, text(1, b"3")))
    tags = msg(2, text(5, "array"), msg(24, msg(1, text(5, "string"))))
    labels = msg(2, text(5, "object"), msg(30, num(1, 0), msg(2, text(5, "string"))))
    spec_schema = msg(2, text(5, "object"), entry(29, "size", size), entry(29, "tags", tags),
                      entry(29, "labels", labels))
    schema = text(5, "object") + entry(29, "spec", spec_schema) + num(38, 0)
    version = msg(7, text(1, "v1"), num(2, 1), num(3, 1), msg(4, msg(1, schema)))
    crd = meta("gadgets.example.com") + msg(2, text(1, "example.com"), msg(
        3, text(1, "gadgets"), text(2, "gadget"), text(4, "Gadget"), text(5, "GadgetList")),
        text(4, "Namespaced"), version)
    code, got = post(apiserver, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                     envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd))
    assert code == 201, got
    stored = got["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert stored["x-kubernetes-preserve-unknown-fields"] is False  # *bool: kept
    props = stored["properties"]["spec"]["properties"]
    assert props["size"] == {"description": "How many.", "type": "integer", "default": 3,
                             "maximum": 10.0, "enum": [1, 3]}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}


# ----------------------------------------------------------------------- errors

def test_a_kind_without_a_schema_gets_415_naming_it(apiserver):
    code, status = post(apiserver, "/api/v1/namespaces/default/configmaps",
                        envelope("batch/v1", "Job", meta("j")))
    assert code == 415 and status["reason"] == "UnsupportedMediaType"
    assert "Job" in status["message"] and "batch/v1" in status["message"]


def test_malformed_protobuf_is_a_bad_request_naming_the_kind(apiserver):
    body = envelope("v1", "ConfigMap", meta("x") + b"\x12\xff")  # data: runs past the end
    code, status = post(apiserver, "/api/v1/namespaces/default/configmaps", body)
    assert code == 400 and "ConfigMap" in status["message"]
    code, status = post(apiserver, "/api/v1/namespaces/default/configmaps", b"not protobuf")
    assert code == 400 and "k8s" in status["message"]


# ------------------------------------------------ special types no served kind uses yet

def test_raw_extension_and_duration_read_as_their_json_forms():
    raw = text(1, b'{"a":[1,2]}')
    assert decode_message("k8s.io.apimachinery.pkg.runtime.RawExtension", raw) == {
        "a": [1, 2]}
    duration = "k8s.io.apimachinery.pkg.apis.meta.v1.Duration"
    assert decode_message(duration, num(1, 90 * 10**9)) == "1m30s"
    assert decode_message(duration, num(1, 3_600_500_000_000)) == "1h0m0.5s"
    assert decode_message(duration, num(1, 250_000_000)) == "250ms"
    assert decode_message(duration, num(1, -(2 * 10**9))) == "-2s"
    with pytest.raises(ProtobufError):
        decode_message("k8s.io.apimachinery.pkg.runtime.RawExtension", text(1, b"{"))


def test_repeated_numbers_packed_or_not_and_negative_numbers():
    context = "k8s.io.api.core.v1.PodSecurityContext"
    unpacked = num(4, 1000) + num(4, 2000) + num(2, -1)
    packed = msg(4, encode_varint(1000), encode_varint(2000)) + num(2, -1)
    for body in (unpacked, packed):
        assert decode_message(context, body) == {"supplementalGroups": [1000, 2000],
                                                 "runAsUser": -1}
