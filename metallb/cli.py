"""The `metallb` command: one entry point, one module per subcommand group.

Each module in `metallb.commands` exposes `register(subparsers)`, which adds its parser
and sets `handler` (a function `args -> exit code`) as the parser default.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from metallb import __version__

COMMAND_MODULES = (
    "metallb.commands.config_check",
    "metallb.commands.plan",
    "metallb.commands.component",
    "metallb.commands.lab",
    "metallb.commands.status",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metallb",
        description="A pure-Python MetalLB (BGP mode): check configs, plan allocations, "
        "deploy the component, run the lab, show its status.",
    )
    parser.add_argument("--version", action="version", version=f"metallb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
