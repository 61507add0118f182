"""kubectl sends access reviews (`kubectl auth can-i`) only as Kubernetes protobuf.
This reads exactly those two messages — SelfSubjectAccessReview and
SubjectAccessReview — into the JSON shape the rest of the emulator uses. Field numbers
are those of k8s.io/api/authorization/v1/generated.proto."""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"
_RESOURCE_ATTRS = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource",
                   6: "subresource", 7: "name"}
_NON_RESOURCE_ATTRS = {1: "path", 2: "verb"}


class ProtobufError(ValueError):
    pass


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of one message: varints and length-delimited only."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            if pos >= len(data):
                raise ProtobufError("truncated varint")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, varint()))
        elif wire == 2:
            length = varint()
            out.append((number, data[pos:pos + length]))
            pos += length
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _strings(data: bytes, names: dict[int, str]) -> dict[str, str]:
    return {names[n]: v.decode() for n, v in _fields(data)
            if n in names and isinstance(v, bytes)}


def decode_review(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded access review as the JSON object the API would have received."""
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf message")
    envelope = dict(_fields(body[len(MAGIC):]))
    type_meta = _strings(envelope.get(1, b""), {1: "apiVersion", 2: "kind"})
    raw = envelope.get(2, b"")
    if not isinstance(raw, bytes):
        raise ProtobufError("missing raw message")
    spec: dict[str, Any] = {}
    groups: list[str] = []
    for number, value in _fields(raw):
        if number != 2 or not isinstance(value, bytes):
            continue  # metadata and status carry nothing a review needs
        for field, sub in _fields(value):
            if not isinstance(sub, bytes):
                continue
            if field == 1:
                spec["resourceAttributes"] = _strings(sub, _RESOURCE_ATTRS)
            elif field == 2:
                spec["nonResourceAttributes"] = _strings(sub, _NON_RESOURCE_ATTRS)
            elif field == 3 and type_meta.get("kind") == "SubjectAccessReview":
                spec["user"] = sub.decode()
            elif field == 4 and type_meta.get("kind") == "SubjectAccessReview":
                groups.append(sub.decode())
    if groups:
        spec["groups"] = groups
    return {"apiVersion": type_meta.get("apiVersion", "authorization.k8s.io/v1"),
            "kind": type_meta.get("kind", ""), "metadata": {}, "spec": spec}
