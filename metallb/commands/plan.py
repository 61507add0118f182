"""`metallb plan` (not implemented yet)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("plan", help="(not implemented yet)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    print("metallb plan: not implemented yet", file=sys.stderr)
    return 2
