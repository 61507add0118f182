"""`metallb config convert FILE [--namespace NS] [--services SERVICES]`: print the
metallb.io objects for a legacy config (bare or as a ConfigMap).

Renamed pools are listed in a comment at the top; with --services, Services whose
address-pool annotation names a renamed pool are listed on stderr (they must be
re-annotated). Exit codes: 0 converted (YAML on stdout), 1 the config is invalid or has a
field the custom resources cannot express (every such field on stderr), 2 an input
cannot be read or is not YAML.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from metallb.commands.input_files import Unreadable, display_name, read_text
from metallb.component.render import to_yaml_stream
from metallb.config.crds import parse_crds
from metallb.config.crds.convert import Conversion, convert_config
from metallb.config.errors import ConfigError, ConfigSyntaxError
from metallb.config.parse import parse_config_text

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
DEFAULT_NAMESPACE = "metallb-system"
POOL_ANNOTATIONS = ("metallb.universe.tf/address-pool", "metallb.io/address-pool")


def register(config_sub: argparse._SubParsersAction) -> None:
    convert = config_sub.add_parser(
        "convert",
        help="print the metallb.io custom resources for a legacy config",
        description="Convert a legacy MetalLB config (bare or ConfigMap) to metallb.io "
        "custom resources, printed as YAML. Exit 0 converted, 1 invalid or not "
        "convertible, 2 unreadable.",
    )
    convert.add_argument("file", metavar="FILE", help='legacy config YAML ("-" for stdin)')
    convert.add_argument("--namespace", default=DEFAULT_NAMESPACE, metavar="NS",
                         help=f"namespace of the objects (default {DEFAULT_NAMESPACE})")
    convert.add_argument("--services", metavar="SERVICES",
                         help="Service manifests to check for annotations naming renamed pools")
    convert.set_defaults(handler=_convert)


def _convert(args: argparse.Namespace) -> int:
    name = display_name(args.file)
    try:
        config = parse_config_text(read_text(args.file), name)
        conversion = convert_config(config, args.namespace, name)
        services = _load_services(args.services) if args.services else []
    except Unreadable as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREADABLE
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"{name}: {issue}", file=sys.stderr)
        if isinstance(exc, ConfigSyntaxError):
            return EXIT_UNREADABLE
        print(f"{name}: {len(exc.issues)} error(s); nothing converted", file=sys.stderr)
        return EXIT_INVALID
    parse_crds(list(conversion.objects), args.namespace)  # a bug if this raises
    sys.stdout.write(_header(name, conversion) + to_yaml_stream(list(conversion.objects)))
    sys.stdout.flush()
    for line in renamed_pool_warnings(conversion, services):
        print(f"{name}: warning: {line}", file=sys.stderr)
    return EXIT_OK


def _load_services(path: str) -> list[dict[str, Any]]:
    from metallb.commands.plan import load_services  # plan imports this module's parent

    return load_services(path)


def _header(name: str, conversion: Conversion) -> str:
    lines = [f"# metallb.io objects converted from {name} by `metallb config convert`."]
    if conversion.pool_renames:
        lines.append("# Pools renamed to valid object names (legacy name -> object name):")
        lines.extend(f"#   {old} -> {new}" for old, new in conversion.pool_renames)
    lines.extend(f"# Note: {note}" for note in conversion.notes)
    return "\n".join(lines) + "\n"


def renamed_pool_warnings(conversion: Conversion, services: list[dict[str, Any]]) -> list[str]:
    """One line per Service whose address-pool annotation names a renamed pool."""
    renames = dict(conversion.pool_renames)
    out = []
    for service in services:
        meta = service.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        for key in POOL_ANNOTATIONS:
            old = annotations.get(key)
            if isinstance(old, str) and old in renames:
                where = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
                out.append(f"Service {where}: annotation {key} names pool {old!r}, now "
                           f"{renames[old]!r}; update the annotation")
    return out
