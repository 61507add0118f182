"""`metallb config check FILE|DIR|-`: validate a MetalLB config in either format: the
metallb.io custom resources (multi-document YAML, `kind: List`, a directory of files) or
the legacy config (bare or as a ConfigMap).

Exit codes: 0 valid (summary on stdout; warnings, for what is valid but looks like a
mistake, on stderr after it), 1 invalid (every issue on stderr, one per line),
2 the file cannot be read or is not YAML. Bad input never produces a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence

from metallb.commands import config_convert
from metallb.commands.input_files import Unreadable, display_name, read_config
from metallb.config.errors import ConfigError, ConfigIssue, ConfigSyntaxError
from metallb.config.model import Config
from metallb.config.summary import summarize

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="work with MetalLB configuration files")
    config_sub = parser.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    config_sub.required = True
    check = config_sub.add_parser(
        "check",
        help="validate a config (metallb.io objects, bare config or ConfigMap manifest)",
        description="Validate a MetalLB configuration: metallb.io custom resources "
        "(IPAddressPool, BGPPeer, BGPAdvertisement, ...; multi-document YAML, a List, or a "
        "directory of such files), or the legacy bare config document or a ConfigMap "
        "with it under data.config. Exit 0 valid, 1 invalid, 2 unreadable.",
    )
    check.add_argument("file", metavar="FILE",
                       help='config YAML file or directory ("-" for stdin)')
    check.set_defaults(handler=_check)
    config_convert.register(config_sub)


def _check(args: argparse.Namespace) -> int:
    name = display_name(args.file)
    try:
        config = read_config(args.file)
    except Unreadable as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREADABLE
    except ConfigSyntaxError as exc:
        print_issues(name, exc.issues)
        return EXIT_UNREADABLE
    except ConfigError as exc:
        report_invalid(name, exc.issues)
        return EXIT_INVALID
    print(f"{name}: config is valid")
    for line in summarize(config):
        print(f"  {line}")
    sys.stdout.flush()  # the summary comes first, also when both streams go to one place
    print_warnings(name, config)
    return EXIT_VALID


def print_warnings(name: str, config: Config) -> None:
    for warning in config.warnings:
        print(f"{name}: warning: {warning}", file=sys.stderr)


def print_issues(name: str, issues: Iterable[ConfigIssue]) -> None:
    """One line per problem on stderr, each behind the input's name."""
    for issue in issues:
        print(f"{name}: {issue}", file=sys.stderr)


def report_invalid(name: str, issues: Sequence[ConfigIssue]) -> None:
    """An invalid config: every problem, then how many (what config check and plan say)."""
    print_issues(name, issues)
    print(f"{name}: {len(issues)} error(s); config is invalid", file=sys.stderr)
