"""The OpenAPI v2 document in the protobuf form kubectl asks /openapi/v2 for
(`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, answered, as
kube-openapi does, with the `@`-less MEDIA_TYPE Go's mime parser accepts): gnostic's
openapi_v2.Document, field numbers from google/gnostic-models openapiv2/OpenAPIv2.proto.

Only what a Kubernetes document uses is written: swagger, info, paths with PATCH
operations (query parameters, responses, vendor extensions) and definitions (schemas
with refs, types, descriptions, formats, required, enums, defaults, items,
additionalProperties, allOf and `x-` extensions). Values gnostic keeps as `Any`
(defaults, enums, examples, extensions) travel as YAML text, as gnostic writes them.
"""

from __future__ import annotations

import struct
from typing import Any

import yaml

from lab.apiserver.protobuf import encode_varint

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
Doc = dict[str, Any]


def _bytes(field: int, payload: bytes) -> bytes:
    return encode_varint(field << 3 | 2) + encode_varint(len(payload)) + payload


def _text(field: int, value: str) -> bytes:
    return _bytes(field, value.encode()) if value else b""


def _number(field: int, value: int | bool) -> bytes:
    return encode_varint(field << 3) + encode_varint(int(value)) if value else b""


def _double(field: int, value: float) -> bytes:
    return encode_varint(field << 3 | 1) + struct.pack("<d", float(value))


def _any(field: int, value: Any) -> bytes:
    """gnostic Any: field 2 holds the value as YAML."""
    return _bytes(field, _text(2, yaml.safe_dump(value, default_flow_style=False)))


def _named(field: int, name: str, value: bytes) -> bytes:
    return _bytes(field, _text(1, name) + _bytes(2, value))


def _extensions(field: int, node: Doc) -> bytes:
    return b"".join(_named(field, key, _text(2, yaml.safe_dump(value)))
                    for key, value in node.items() if key.startswith("x-"))


_SCHEMA_STRINGS = {"$ref": 1, "format": 2, "title": 3, "description": 4, "pattern": 13,
                   "discriminator": 26}
_SCHEMA_DOUBLES = {"multipleOf": 6, "maximum": 7, "minimum": 9}
_SCHEMA_NUMBERS = {"exclusiveMaximum": 8, "exclusiveMinimum": 10, "maxLength": 11,
                   "minLength": 12, "maxItems": 14, "minItems": 15, "uniqueItems": 16,
                   "maxProperties": 17, "minProperties": 18, "readOnly": 27}


def schema(node: Doc) -> bytes:
    """One gnostic Schema."""
    out = b""
    for key, number in _SCHEMA_STRINGS.items():
        if isinstance(node.get(key), str):
            out += _text(number, node[key])
    for key, number in _SCHEMA_DOUBLES.items():
        if isinstance(node.get(key), (int, float)):
            out += _double(number, node[key])
    for key, number in _SCHEMA_NUMBERS.items():
        if isinstance(node.get(key), (int, bool)):
            out += _number(number, node[key])
    if "default" in node:
        out += _any(5, node["default"])
    out += b"".join(_text(19, name) for name in node.get("required") or [])
    out += b"".join(_any(20, value) for value in node.get("enum") or [])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out += _bytes(21, _bytes(1, schema(extra)))
    elif isinstance(extra, bool):
        out += _bytes(21, encode_varint(2 << 3) + encode_varint(int(extra)))
    kinds = node.get("type")
    if kinds:
        out += _bytes(22, b"".join(_text(1, k) for k in (
            kinds if isinstance(kinds, list) else [kinds])))
    items = node.get("items")
    if isinstance(items, dict):
        out += _bytes(23, _bytes(1, schema(items)))
    out += b"".join(_bytes(24, schema(s)) for s in node.get("allOf") or [])
    properties = node.get("properties")
    if isinstance(properties, dict):
        out += _bytes(25, b"".join(_named(1, name, schema(s))
                                   for name, s in properties.items()))
    if "example" in node:
        out += _any(30, node["example"])
    return out + _extensions(31, node)


def _operation(operation: Doc) -> bytes:
    out = _text(3, operation.get("description", "")) + _text(5, operation.get(
        "operationId", ""))
    for parameter in operation.get("parameters") or []:
        query = (_text(2, parameter.get("in", "")) + _text(3, parameter.get(
            "description", "")) + _text(4, parameter.get("name", "")) + _text(
            6, parameter.get("type", "")) + _number(20, bool(parameter.get("uniqueItems"))))
        out += _bytes(8, _bytes(1, _bytes(2, _bytes(3, query))))
    responses = b"".join(_named(1, code, _bytes(1, _text(1, response.get("description", ""))))
                         for code, response in (operation.get("responses") or {}).items())
    return out + _bytes(9, responses) + _extensions(13, operation)


_VERBS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def document(doc: Doc) -> bytes:
    """A v2 (swagger) document as a gnostic openapi_v2.Document message."""
    info = doc.get("info") or {}
    paths = b"".join(_named(2, path, b"".join(_bytes(_VERBS[verb], _operation(operation))
                                              for verb, operation in item.items()
                                              if verb in _VERBS))
                     for path, item in (doc.get("paths") or {}).items())
    definitions = b"".join(_named(1, name, schema(node))
                           for name, node in (doc.get("definitions") or {}).items())
    return (_text(1, doc.get("swagger", "2.0")) + _bytes(2, _text(1, info.get("title", ""))
                                                        + _text(2, info.get("version", "")))
            + _bytes(8, paths) + _bytes(9, definitions))
