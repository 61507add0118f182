"""Kubernetes protobuf request bodies, read into the JSON shape the emulator stores.

kubectl sends the objects it builds itself (`create service`, `create configmap`,
`expose`, `auth can-i` ...) as `application/vnd.kubernetes.protobuf`: the magic `k8s\\0`,
then a runtime.Unknown envelope (1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3
contentEncoding, 4 contentType) whose `raw` is the object's message.

Two pieces: a generic wire-format reader, and `protobuf_schema.json` (built by
`protobuf_schema_build.py` from the `generated.proto` files and Go struct tags): message
-> field number -> JSON name, type, optional/repeated/map and flags. The few types whose
JSON form is not their message's shape (Quantity, IntOrString, Time, MicroTime, Duration,
FieldsV1, RawExtension, apiextensions JSON and its "or" types, ExtraValue) are decoded by
hand here. The result equals what the Go client's JSON encoding of the same object reads
as: zero scalars dropped unless the Go field is a pointer or lacks `omitempty`, zero Times
dropped, bytes as base64, inline structs merged into their parent.
"""

from __future__ import annotations

import base64
import functools
import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lab.apiserver import errors

MAGIC = b"k8s\x00"
_SCHEMA_FILE = Path(__file__).with_name("protobuf_schema.json")
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"
_EXTENSIONS = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1"
# apiVersion -> proto package of its kinds
KIND_PACKAGES = {
    "v1": "k8s.io.api.core.v1",
    "apps/v1": "k8s.io.api.apps.v1",
    "discovery.k8s.io/v1": "k8s.io.api.discovery.v1",
    "coordination.k8s.io/v1": "k8s.io.api.coordination.v1",
    "events.k8s.io/v1": "k8s.io.api.events.v1",
    "rbac.authorization.k8s.io/v1": "k8s.io.api.rbac.v1",
    "authorization.k8s.io/v1": "k8s.io.api.authorization.v1",
    "apiextensions.k8s.io/v1": _EXTENSIONS,
}
# kinds every group version carries (client-go registers them everywhere)
_META_KINDS = ("DeleteOptions",)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Wire = list[tuple[int, int, int | bytes]]


class ProtobufError(ValueError):
    """A body that is not a well-formed message of the kind it names."""


class UnknownKind(ProtobufError):
    """A well-formed envelope around a kind the schema table does not describe."""

    def __init__(self, api_version: str, kind: str):
        super().__init__(f"the emulator cannot decode a protobuf-encoded {kind} "
                         f"({api_version}); send it as application/json")
        self.kind = kind


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`."""
    shift = result = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def encode_varint(value: int) -> bytes:
    """The writing side (openapi_protobuf.py writes): negative numbers as 64-bit two's
    complement, as Go writes int32 and int64."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def fields(data: bytes) -> Wire:
    """(field number, wire type, value) of one message, in wire order."""
    out: Wire = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, wire, value))
            continue
        size = {1: 8, 5: 4}.get(wire)
        if size is None and wire == 2:
            size, pos = _varint(data, pos)
        if size is None:
            raise ProtobufError(f"unsupported wire type {wire} in field {number}")
        if pos + size > len(data):
            raise ProtobufError(f"field {number} runs past the end of its message")
        out.append((number, wire, data[pos:pos + size]))
        pos += size
    return out


# ------------------------------------------------------------------------ scalars

def _signed(value: int) -> int:
    """int32 and int64 travel as 64-bit two's complement varints."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, wire: int, value: int | bytes) -> Any:
    if kind in ("string", "bytes"):
        if not isinstance(value, bytes):
            raise ProtobufError(f"a {kind} field with wire type {wire}")
        return value.decode() if kind == "string" else base64.b64encode(value).decode()
    if kind == "double" and isinstance(value, bytes) and len(value) == 8:
        return struct.unpack("<d", value)[0]
    if kind == "float" and isinstance(value, bytes) and len(value) == 4:
        return struct.unpack("<f", value)[0]
    if not isinstance(value, int):
        raise ProtobufError(f"a {kind} field with wire type {wire}")
    if kind == "bool":
        return bool(value)
    return _signed(value) if kind in ("int32", "int64") else value


def _packed(kind: str, wire: int, value: int | bytes) -> list[tuple[int, int | bytes]]:
    """A repeated number sent packed (one length-delimited run) as separate values."""
    if wire != 2 or kind in ("string", "bytes") or "." in kind:
        return [(wire, value)]
    assert isinstance(value, bytes)
    if kind in ("double", "fixed64", "sfixed64"):
        return [(1, value[i:i + 8]) for i in range(0, len(value), 8)]
    if kind in ("float", "fixed32", "sfixed32"):
        return [(5, value[i:i + 4]) for i in range(0, len(value), 4)]
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(value):
        number, pos = _varint(value, pos)
        out.append((0, number))
    return out


# ------------------------------------------------------------------ special types

def _first(data: bytes, number: int, default: Any = None) -> Any:
    return next((v for n, _w, v in fields(data) if n == number), default)


def _time(data: bytes, micro: bool) -> str | None:
    if not data:
        return None  # a zero Time: Go's JSON writes null, a client would omit it
    seconds = _signed(_first(data, 1, 0))
    nanos = _first(data, 2, 0)
    stamp = _EPOCH + timedelta(seconds=seconds)
    if micro:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos // 1000:06d}Z"
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(data: bytes) -> str:
    """Go's time.Duration.String() for whole milliseconds and up (what Kubernetes uses)."""
    nanos = _signed(_first(data, 1, 0))
    sign, nanos = ("-" if nanos < 0 else ""), abs(nanos)
    if nanos == 0:
        return "0s"
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return f"{sign}{_trim(nanos / size)}{unit}"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = f"{hours}h" if hours else ""
    text += f"{minutes}m" if hours or minutes else ""
    return f"{sign}{text}{_trim(rest / 1e9)}s"


def _trim(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


def _raw_json(data: bytes) -> Any:
    raw = _first(data, 1, b"")
    try:
        return json.loads(raw) if raw else None
    except ValueError as exc:
        raise ProtobufError(f"embedded JSON is not valid: {exc}") from None


def _int_or_string(data: bytes) -> int | str:
    values = {n: v for n, _w, v in fields(data)}
    if values.get(1, 0) == 1:
        return values.get(3, b"").decode()
    return _signed(values.get(2, 0))


def _schema_or(data: bytes, schema_field: int, other_field: int, other: str) -> Any:
    """JSONSchemaPropsOr{Array,Bool,StringArray}: a schema, or the other form."""
    items = fields(data)
    schema = next((v for n, _w, v in items if n == schema_field), None)
    others = [v for n, _w, v in items if n == other_field]
    if other == "bool":
        return decode_message(f"{_EXTENSIONS}.JSONSchemaProps", schema) if schema is not None \
            else bool(others[0]) if others else False
    if others:
        return [decode_message(f"{_EXTENSIONS}.JSONSchemaProps", v) if other == "schema"
                else v.decode() for v in others]
    return decode_message(f"{_EXTENSIONS}.JSONSchemaProps", schema or b"")


SPECIAL_MESSAGES: dict[str, Callable[[bytes], Any]] = {
    "k8s.io.apimachinery.pkg.api.resource.Quantity": lambda d: _first(d, 1, b"").decode(),
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
    f"{_META}.Time": lambda d: _time(d, micro=False),
    f"{_META}.MicroTime": lambda d: _time(d, micro=True),
    f"{_META}.Duration": _duration,
    f"{_META}.FieldsV1": _raw_json,
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _raw_json,
    f"{_EXTENSIONS}.JSON": _raw_json,
    f"{_EXTENSIONS}.JSONSchemaPropsOrArray": lambda d: _schema_or(d, 1, 2, "schema"),
    f"{_EXTENSIONS}.JSONSchemaPropsOrBool": lambda d: _schema_or(d, 2, 1, "bool"),
    f"{_EXTENSIONS}.JSONSchemaPropsOrStringArray": lambda d: _schema_or(d, 1, 2, "string"),
    "k8s.io.api.authorization.v1.ExtraValue": lambda d: [v.decode() for n, _w, v in fields(d)
                                                         if n == 1 and isinstance(v, bytes)],
}


# ------------------------------------------------------------------------ messages

@functools.cache
def schema() -> dict[str, dict[int, tuple[str, str, str, str]]]:
    """message -> number -> (JSON name, type, optional|repeated|map<K>, flags)."""
    table = json.loads(_SCHEMA_FILE.read_text())["messages"]
    return {message: {f[0]: (f[1], f[2], f[3], f[4]) for f in rows}
            for message, rows in table.items()}


def _value(kind: str, wire: int, value: int | bytes) -> Any:
    if "." not in kind:
        return _scalar(kind, wire, value)
    if not isinstance(value, bytes):
        raise ProtobufError(f"a {kind.rsplit('.', 1)[-1]} with wire type {wire}")
    return decode_message(kind, value)


def _map_entry(key_kind: str, kind: str, data: bytes) -> tuple[Any, Any]:
    entry = {n: (w, v) for n, w, v in fields(data)}
    key = _scalar(key_kind, *entry[1]) if 1 in entry else ""
    if 2 in entry:
        return key, _value(kind, *entry[2])
    return key, ("" if kind == "string" else _value(kind, 2, b"") if "." in kind else 0)


def decode_message(message: str, data: bytes) -> Any:
    """One message as the JSON value the Go client would have sent."""
    special = SPECIAL_MESSAGES.get(message)
    if special is not None:
        return special(data)
    table = schema().get(message)
    if table is None:
        raise ProtobufError(f"no schema for {message}")
    out: dict[str, Any] = {}
    inline: list[dict[str, Any]] = []
    for number, wire, value in fields(data):
        field = table.get(number)
        if field is None:
            continue  # a field newer than our table: ignored, as unknown JSON fields are
        name, kind, label, flags = field
        if label == "repeated":
            out.setdefault(name, []).extend(_value(kind, w, v) for w, v in
                                            _packed(kind, wire, value))
        elif label.startswith("map<"):
            assert isinstance(value, bytes)
            key, item = _map_entry(label[4:-1], kind, value)
            out.setdefault(name, {})[key] = item
        elif "inline" in flags:
            inline.append(_value(kind, wire, value))
        else:
            decoded = _value(kind, wire, value)
            if decoded is None or (decoded in ("", 0, False) and "keep" not in flags):
                out.pop(name, None)
            else:
                out[name] = decoded
    for part in inline:
        out.update(part)
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """A `k8s\\0` envelope as the JSON object it carries (apiVersion and kind first)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic k8s\\0")
    envelope = {n: v for n, _w, v in fields(body[len(MAGIC):])}
    type_meta = {n: v for n, _w, v in fields(_bytes(envelope.get(1)))}
    api_version = _bytes(type_meta.get(1)).decode()
    kind = _bytes(type_meta.get(2)).decode()
    encoding = _bytes(envelope.get(3)).decode()
    if encoding:
        raise ProtobufError(f"content encoding {encoding!r} of the {kind} is not supported")
    package = _META if kind in _META_KINDS else KIND_PACKAGES.get(api_version)
    message = f"{package}.{kind}"
    if package is None or message not in schema():
        raise UnknownKind(api_version, kind)
    try:
        decoded = decode_message(message, _bytes(envelope.get(2)))
    except (ProtobufError, UnicodeDecodeError, KeyError) as exc:
        raise ProtobufError(f"the protobuf-encoded {kind} is malformed: {exc}") from None
    return {"apiVersion": api_version, "kind": kind, **decoded}


def _bytes(value: int | bytes | None) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, bytes):
        raise ProtobufError("an envelope field has the wrong wire type")
    return value


def request_body(body: bytes) -> dict[str, Any]:
    """decode_object for the HTTP layer: 415 for a kind it cannot read, 400 for bad bytes."""
    try:
        return decode_object(body)
    except UnknownKind as exc:
        raise errors.ApiError(415, "UnsupportedMediaType", str(exc)) from None
    except ProtobufError as exc:
        raise errors.bad_request(str(exc)) from None
