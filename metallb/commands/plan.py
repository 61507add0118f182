"""`metallb plan --config CONFIG --services SERVICES`: dry-run the controller's allocation.

Prints, as JSON on stdout, the addresses, pool and events every Service would get, and the
per-pool address counts, exactly as the controller would decide (same reconcile code).
Exit codes: 0 config valid (per-service failures are in the output), 1 config invalid
(issues on stderr), 2 an input cannot be read / is not YAML, or bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from metallb.allocator.dry_run import plan_allocations
from metallb.commands.config_check import print_issues, print_warnings, report_invalid
from metallb.commands.input_files import STDIN, Unreadable, display_name, read_config, read_text
from metallb.config.errors import ConfigError, ConfigSyntaxError
from metallb.config.model import Config
from metallb.config.yaml_text import load_yaml_documents

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
_LIST_KINDS = ("List", "ServiceList")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "plan",
        help="show which addresses Services would get (dry run of the controller)",
        description="Dry-run the controller: read a MetalLB config and Service manifests, "
        "print the addresses, pool and events each Service would get, and per-pool "
        "address counts, as JSON. Services that already hold an address "
        "(status.loadBalancer.ingress) are placed first, as a restarted controller does; "
        "within each group, oldest creationTimestamp first, then namespace/name (a "
        "manifest without creationTimestamp counts as created after all others). "
        "Exit 0 config valid, 1 config invalid, 2 unreadable input.",
    )
    parser.add_argument(
        "--config", required=True, metavar="CONFIG",
        help="MetalLB config: metallb.io objects (file or directory), bare config or "
        "ConfigMap manifest",
    )
    parser.add_argument(
        "--services", required=True, metavar="SERVICES",
        help='Service manifests: multi-document YAML or a `kind: List` ("-" for stdin)',
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    if args.config == STDIN and args.services == STDIN:
        print("metallb plan: only one of --config and --services can be stdin", file=sys.stderr)
        return EXIT_UNREADABLE
    config_name = display_name(args.config)
    config: Config | None = None
    invalid: ConfigError | None = None
    try:
        config = read_config(args.config)
    except Unreadable as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREADABLE
    except ConfigSyntaxError as exc:
        print_issues(config_name, exc.issues)
        return EXIT_UNREADABLE
    except ConfigError as exc:
        invalid = exc
    try:
        services, namespaces = load_inputs(args.services)
    except Unreadable as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_UNREADABLE
    if config is None:
        report_invalid(config_name, invalid.issues if invalid else [])
        return EXIT_INVALID
    print_warnings(config_name, config)
    json.dump(plan_allocations(config, services, namespaces), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def load_services(path: str) -> list[dict[str, Any]]:
    """Service objects from a YAML stream (documents and/or `kind: List` items), in file
    order; Namespaces are skipped silently (see load_inputs), other kinds with a note on
    stderr."""
    return load_inputs(path)[0]


def load_inputs(path: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """The Services, and the labels of every Namespace object (name -> labels), which
    the pools' serviceAllocation.namespaceSelectors are matched against."""
    name = display_name(path)
    try:
        documents = load_yaml_documents(read_text(path), name)
    except ConfigSyntaxError as exc:
        raise Unreadable("\n".join(f"{name}: {i.message}" for i in exc.issues)) from None

    services: list[dict[str, Any]] = []
    namespaces: dict[str, dict[str, str]] = {}
    for number, document in enumerate(documents, start=1):
        if document is None:
            continue
        where = f"{name}: document {number}"
        if isinstance(document, Mapping) and document.get("kind") in _LIST_KINDS:
            items = document.get("items")
            if not isinstance(items, list):
                raise Unreadable(f"{where}: a {document.get('kind')} needs a list of `items`")
            for index, item in enumerate(items):
                _add_object(services, namespaces, item, f"{where}, items[{index}]")
        else:
            _add_object(services, namespaces, document, where)
    return services, namespaces


def _add_object(services: list[dict[str, Any]], namespaces: dict[str, dict[str, str]],
                obj: object, where: str) -> None:
    if not isinstance(obj, Mapping):
        raise Unreadable(f"{where}: is not a Kubernetes object (a mapping), got {obj!r:.60}")
    kind = obj.get("kind", "Service")
    if kind == "Namespace" and obj.get("apiVersion") == "v1":
        meta = obj.get("metadata")
        ns_name = meta.get("name") if isinstance(meta, Mapping) else None
        labels = meta.get("labels") if isinstance(meta, Mapping) else None
        if not isinstance(ns_name, str) or not ns_name:
            raise Unreadable(f"{where}: metadata.name is missing; every Namespace needs one")
        if labels is not None and not (isinstance(labels, Mapping) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in labels.items())):
            raise Unreadable(f"{where}: metadata.labels must map strings to strings")
        namespaces[ns_name] = dict(labels or {})
        return
    if kind != "Service":
        print(f"{where}: skipping kind {kind!r} (only Services are planned)", file=sys.stderr)
        return
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(name, str) or not name:
        raise Unreadable(f"{where}: metadata.name is missing; every Service needs a name")
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        raise Unreadable(f"{where}: metadata.namespace must be a non-empty string")
    services.append(dict(obj))

