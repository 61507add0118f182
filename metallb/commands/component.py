"""`metallb component render|apply|delete`: deploy MetalLB from a Lokomotive-style
`component "metallb" { ... }` block (see metallb.component)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from metallb.config.errors import ConfigError

DEFAULT_CONFIG = "."


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "component",
        help="render, apply or delete the MetalLB deployment from a *.lokocfg block",
        description="Deploy MetalLB from a Lokomotive-style component \"metallb\" block.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    render = actions.add_parser("render", help="print the manifests (YAML stream)")
    _config_arguments(render, required=True)
    render.set_defaults(handler=_render)

    apply = actions.add_parser(
        "apply", help="server-side apply the manifests; prune objects no longer rendered")
    _config_arguments(apply, required=True)
    _kubeconfig_argument(apply)
    apply.set_defaults(handler=_apply)

    delete = actions.add_parser(
        "delete", help="delete every object of the component (found by its labels)")
    _config_arguments(delete, required=False)
    _kubeconfig_argument(delete)
    delete.add_argument("--delete-namespace", action="store_true",
                        help="also delete the metallb-system namespace")
    delete.add_argument("--confirm", action="store_true", help="do not ask before deleting")
    delete.set_defaults(handler=_delete)


def _config_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--config", "--lokocfg", dest="config", default=DEFAULT_CONFIG, metavar="PATH",
        help="a *.lokocfg file or a directory of them (default: the current directory)"
        + ("" if required else "; only checked, objects are found by their labels"))
    parser.add_argument(
        "--vars", dest="vars", default=None, metavar="FILE",
        help="values of the variables (default: lokocfg.vars beside the configuration)")


def _kubeconfig_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig", default=None, metavar="FILE",
        help="kubeconfig to use (default: KUBECONFIG, then ~/.kube/config)")


def _report_config_error(err: ConfigError) -> int:
    prefix = f"{err.source}: " if err.source else ""
    for issue in err.issues:
        print(f"error: {prefix}{issue}", file=sys.stderr)
    return 1


def _with_errors(action: Callable[[], int]) -> int:
    """Turn every expected failure into a clear message and exit status 1."""
    from metallb.component.cluster import ClusterError

    try:
        return action()
    except ConfigError as err:
        return _report_config_error(err)
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _load(args: argparse.Namespace):
    from metallb.component.render import load_settings

    return load_settings(args.config, args.vars)


def _render(args: argparse.Namespace) -> int:
    from metallb.component.render import render_yaml

    def run() -> int:
        sys.stdout.write(render_yaml(_load(args)))
        return 0

    return _with_errors(run)


def _connect(args: argparse.Namespace):
    from metallb.component.cluster import ClusterError, ComponentCluster
    from metallb.kube.client import load_api_client

    try:
        return ComponentCluster(load_api_client(args.kubeconfig))
    except Exception as err:  # a kubeconfig is user input: any failure is reported
        # (missing file, bad YAML, no current context, unknown auth plugin, ...)
        where = args.kubeconfig or "kubeconfig"
        raise ClusterError(f"{where}: cannot load the cluster configuration: {err}") from None


def _apply(args: argparse.Namespace) -> int:
    from metallb.component.cluster import apply_objects
    from metallb.component.render import render_objects

    def run() -> int:
        objects = render_objects(_load(args))
        for action in apply_objects(_connect(args), objects):
            print(action)
        return 0

    return _with_errors(run)


def _delete(args: argparse.Namespace) -> int:
    from metallb.component.cluster import delete_component

    def run() -> int:
        if args.config != DEFAULT_CONFIG:
            _load(args)  # a config given explicitly must at least be valid
        what = "every object of the metallb component"
        if args.delete_namespace:
            what += " and the metallb-system namespace"
        if not args.confirm and not _ask(f"Delete {what}? [y/N] "):
            print("not deleted (pass --confirm to skip this question)", file=sys.stderr)
            return 1
        actions = delete_component(_connect(args), args.delete_namespace)
        for action in actions:
            print(action)
        if not actions:
            print("nothing to delete")
        return 0

    return _with_errors(run)


def _ask(question: str) -> bool:
    """Read the answer from stdin (a terminal or a pipe); no answer means no."""
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")
