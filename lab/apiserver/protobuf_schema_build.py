"""Builds protobuf_schema.json, the field table the emulator's protobuf decoder reads.

Run once per Kubernetes minor version (not at run time):

    python3 -m lab.apiserver.protobuf_schema_build v0.32.9 \\
        GIT_DIR_OF_kubernetes/api GIT_DIR_OF_kubernetes/apimachinery \\
        GIT_DIR_OF_kubernetes/apiextensions-apiserver

Field numbers, types and repeated/map come from the `generated.proto` files; the JSON
name, whether the field is inlined into its parent (`json:",inline"`) and whether a zero
value still appears in JSON (a pointer, or no `omitempty`) come from the Go struct tags of
the same fields, because the wire format cannot tell a zero from an absent value. Only
the messages reachable from the kinds the emulator serves are written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from lab.apiserver.protobuf import KIND_PACKAGES, SPECIAL_MESSAGES
from lab.apiserver.resources import BUILTIN

OUTPUT = Path(__file__).with_name("protobuf_schema.json")
# (repository argument index, directory, proto package)
PACKAGES = [
    (0, "core/v1", "k8s.io.api.core.v1"),
    (0, "apps/v1", "k8s.io.api.apps.v1"),
    (0, "discovery/v1", "k8s.io.api.discovery.v1"),
    (0, "coordination/v1", "k8s.io.api.coordination.v1"),
    (0, "events/v1", "k8s.io.api.events.v1"),
    (0, "rbac/v1", "k8s.io.api.rbac.v1"),
    (0, "authorization/v1", "k8s.io.api.authorization.v1"),
    (1, "pkg/apis/meta/v1", "k8s.io.apimachinery.pkg.apis.meta.v1"),
    (1, "pkg/runtime", "k8s.io.apimachinery.pkg.runtime"),
    (1, "pkg/util/intstr", "k8s.io.apimachinery.pkg.util.intstr"),
    (1, "pkg/api/resource", "k8s.io.apimachinery.pkg.api.resource"),
    (2, "pkg/apis/apiextensions/v1", "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1"),
]
_FIELD = re.compile(r"^\s*(optional|repeated)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*;")
_MAP = re.compile(r"^\s*map<\s*(\S+)\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")
_GO_FIELD = re.compile(r"^\s*(?:(\w+)\s+)?(\S+)\s+`(.*)`")


def _git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", repo, *args], check=True, capture_output=True,
                          text=True).stdout


def _proto_messages(text: str, package: str) -> dict[str, list[list[Any]]]:
    """message -> [[number, proto name, type, label]] (label: optional/repeated/map)."""
    messages: dict[str, list[list[Any]]] = {}
    current: list[list[Any]] | None = None

    def qualified(name: str) -> str:
        if name.startswith("."):
            return name[1:]
        return name if name[0].islower() else f"{package}.{name}"

    for line in text.splitlines():
        if line.startswith("message "):
            current = messages.setdefault(f"{package}.{line.split()[1]}", [])
        elif line.startswith("}"):
            current = None
        elif current is not None and (match := _FIELD.match(line)):
            label, kind, name, number = match.groups()
            current.append([int(number), name, qualified(kind), label])
        elif current is not None and (match := _MAP.match(line)):
            key, value, name, number = match.groups()
            current.append([int(number), name, qualified(value), f"map<{key}>"])
    return messages


def _go_tags(text: str) -> dict[str, dict[int, tuple[str, bool, bool]]]:
    """Go struct -> protobuf number -> (json name, inline, zero value shown in JSON)."""
    out: dict[str, dict[int, tuple[str, bool, bool]]] = {}
    struct: dict[int, tuple[str, bool, bool]] | None = None
    for line in text.splitlines():
        if match := re.match(r"^type (\w+) struct \{", line):
            struct = out.setdefault(match.group(1), {})
        elif line.startswith("}"):
            struct = None
        elif struct is not None and (match := _GO_FIELD.match(line)):
            go_type, tag = match.group(2), match.group(3)
            proto = re.search(r'protobuf:"([^"]*)"', tag)
            js = re.search(r'json:"([^"]*)"', tag)
            if not proto or not js:
                continue
            number = int(proto.group(1).split(",")[1])
            name, *options = js.group(1).split(",")
            struct[number] = (name, "inline" in options and not name,
                              go_type.startswith("*") or "omitempty" not in options)
    return out


def build(ref: str, repos: list[str]) -> dict[str, Any]:
    protos: dict[str, list[list[Any]]] = {}
    tags: dict[str, dict[int, tuple[str, bool, bool]]] = {}
    for index, directory, package in PACKAGES:
        repo = repos[index]
        files = _git(repo, "ls-tree", "--name-only", ref, directory + "/").split()
        protos.update(_proto_messages(_git(repo, "show", f"{ref}:{directory}/"
                                                             "generated.proto"), package))
        for path in files:
            if path.endswith(".go") and not path.endswith("_test.go") and "generated" not in (
                    path.rsplit("/", 1)[-1]):
                for struct, fields in _go_tags(_git(repo, "show", f"{ref}:{path}")).items():
                    tags[f"{package}.{struct}"] = fields
    roots = [f"{KIND_PACKAGES[rt.api_version]}.{rt.kind}" for rt in BUILTIN]
    roots.append("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")
    table: dict[str, list[list[Any]]] = {}
    todo = list(roots)
    while todo:
        message = todo.pop()
        if message in table or message in SPECIAL_MESSAGES:
            continue
        if message not in protos:
            raise SystemExit(f"no proto message {message}")
        fields = []
        for number, proto_name, kind, label in protos[message]:
            name, inline, keep_zero = tags.get(message, {}).get(number, (proto_name, False,
                                                                         False))
            flags = ("inline" if inline else "") + ("keep" if keep_zero else "")
            fields.append([number, name, kind, label, flags])
            if "." in kind:
                todo.append(kind)
        table[message] = sorted(fields)
    return {"source": f"k8s.io/api, apimachinery, apiextensions-apiserver {ref}",
            "messages": dict(sorted(table.items()))}


def main(argv: list[str]) -> None:
    ref, *repos = argv
    schema = build(ref, repos)
    lines = [f"{json.dumps(name)}:{json.dumps(fields, separators=(',', ':'))}"
             for name, fields in schema["messages"].items()]
    OUTPUT.write_text('{"source":' + json.dumps(schema["source"]) + ',\n"messages":{\n'
                      + ",\n".join(lines) + "}}\n")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
