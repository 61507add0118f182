"""`metallb lab` (not implemented yet)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("lab", help="(not implemented yet)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    print("metallb lab: not implemented yet", file=sys.stderr)
    return 2
