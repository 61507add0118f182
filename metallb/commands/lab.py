"""`metallb lab ...`: the local lab. One function per subcommand, registered on the
`lab` group's own subparsers, so `up`, `status`, `down`, `demo` can be added the same way.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
from collections.abc import Callable

from metallb.logs import format_event, log_event

LabCommand = Callable[[argparse._SubParsersAction], None]


def lab_installed() -> bool:
    """The lab ships with the source tree, not with the package in the image."""
    try:
        return importlib.util.find_spec("lab.cluster") is not None
    except ModuleNotFoundError:
        return False


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("lab", help="run the local lab (Kubernetes API emulator, ...)",
                            description="Run the local lab on this machine.")
    if not lab_installed():
        parser.add_argument("lab_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.set_defaults(handler=_lab_missing)
        return
    lab_sub = parser.add_subparsers(dest="lab_command", title="lab commands")
    lab_sub.required = True
    for add in LAB_COMMANDS:
        add(lab_sub)


def _lab_missing(args: argparse.Namespace) -> int:
    print("metallb lab: the lab is not part of this installation (it ships with the source "
          "tree: run it from a checkout, after `bash scripts/setup.sh`)", file=sys.stderr)
    return 2


# ---------------------------------------------------------------------------- apiserver


def add_apiserver(lab_sub: argparse._SubParsersAction) -> None:
    parser = lab_sub.add_parser(
        "apiserver",
        help="run the Kubernetes API emulator in the foreground",
        description="Serve the Kubernetes API emulator on 127.0.0.1 until SIGTERM/SIGINT, "
        "and write a kubeconfig that points kubectl and the official client at it.",
    )
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port on 127.0.0.1 (default: 0 = any free port)")
    parser.add_argument("--kubeconfig", default="metallb-lab.kubeconfig",
                        help="where to write the kubeconfig (default: %(default)s)")
    parser.add_argument("--token", default=None,
                        help="require this bearer token (default: no authentication)")
    parser.add_argument("--service-account-token", action="append", default=[],
                        metavar="NAMESPACE/NAME=TOKEN",
                        help="accept TOKEN as the ServiceAccount NAMESPACE/NAME (repeatable); "
                        "more can be made with POST /_emulator/tokens")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed for generated names and injected faults (deterministic runs)")
    parser.add_argument("--history-limit", type=int, default=5000,
                        help="watch events kept for resuming; older resumes get 410 "
                        "(default: %(default)s)")
    parser.add_argument("--bookmark-interval", type=float, default=5.0,
                        help="seconds between watch BOOKMARK events (default: %(default)s)")
    parser.add_argument("--tls", action="store_true",
                        help="serve HTTPS with a throwaway self-signed certificate (kubectl "
                        "sends bearer tokens only over TLS; needs openssl)")
    parser.add_argument("--enforce-rbac", action="store_true",
                        help="check requests of non-admin tokens against Roles/ClusterRoles")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    parser.set_defaults(handler=run_apiserver)


def run_apiserver(args: argparse.Namespace) -> int:
    from lab.apiserver import ApiServer, Identity
    from lab.apiserver.tls import TLSSetupError

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    problems = []
    if not 0 <= args.port <= 65535:
        problems.append(f"--port: must be between 0 and 65535 (value: {args.port})")
    if args.history_limit < 1:
        problems.append(f"--history-limit: must be at least 1 (value: {args.history_limit})")
    if args.bookmark_interval <= 0:
        problems.append(f"--bookmark-interval: must be positive (value: "
                        f"{args.bookmark_interval})")
    sa_tokens = []
    for spec in args.service_account_token:
        account, _, token = spec.partition("=")
        namespace, _, name = account.partition("/")
        if not (namespace and name and token):
            problems.append(f"--service-account-token: expected NAMESPACE/NAME=TOKEN "
                            f"(value: {spec!r})")
        else:
            sa_tokens.append((namespace, name, token))
    if problems:
        for problem in problems:
            print(f"metallb lab apiserver: {problem}", file=sys.stderr)
        return 2
    server = ApiServer(port=args.port, token=args.token, history_limit=args.history_limit,
                       seed=args.seed, bookmark_interval=args.bookmark_interval,
                       enforce_rbac=args.enforce_rbac, tls=args.tls)
    for namespace, name, token in sa_tokens:
        server.add_token(token, Identity.service_account(namespace, name))
    try:
        server.start()
    except TLSSetupError as exc:
        print(f"metallb lab apiserver: --tls: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"metallb lab apiserver: cannot listen on 127.0.0.1:{args.port}: "
              f"{exc.strerror or exc}; choose another --port (0 picks a free one)",
              file=sys.stderr)
        return 2
    try:
        path = server.write_kubeconfig(args.kubeconfig)
    except OSError as exc:
        server.stop()
        print(f"metallb lab apiserver: cannot write --kubeconfig {args.kubeconfig}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2

    def on_signal(signum: int, _frame: object) -> None:
        log_event(logging.getLogger("lab.apiserver"), "info", "apiserver_signal",
                  signal=signal.Signals(signum).name)
        server.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fields: dict[str, object] = {"url": server.url, "kubeconfig": path.resolve()}
    if server.ca_cert_path:
        fields["ca"] = server.ca_cert_path
    print(format_event("apiserver_listening", fields), flush=True)
    server.serve_forever()
    server.stop()
    # with 100,000 objects the interpreter's teardown outlived a 10 s SIGTERM grace (and
    # slowed whatever ran next on the machine): the store needs no teardown
    from metallb.daemon_cli import exit_now

    exit_now(0)


# ------------------------------------------------------------------- up/status/down/demo


def _lab_location_arguments(parser: argparse.ArgumentParser) -> None:
    from lab.state import PREFIX_ENV, STATE_DIR_ENV, default_prefix, default_state_dir

    parser.add_argument("--state-dir", default=default_state_dir(), metavar="DIR",
                        help=f"the lab's state directory: state file, kubeconfig, logs "
                        f"(default: {STATE_DIR_ENV} or %(default)s)")
    parser.add_argument("--prefix", default=default_prefix(),
                        help=f"name prefix of the lab's network namespaces (default: "
                        f"{PREFIX_ENV} or %(default)s); tests use their own")


def _up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=3, help="node namespaces (default: 3)")
    parser.add_argument("--config", default=None, metavar="PATH",
                        help="component configuration (*.lokocfg; default: the lab's copy "
                        "of the seed example, lab/data/lab.lokocfg)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for each start-up step (default: 60)")
    parser.add_argument("--containers", action="store_true",
                        help="run the controller and speakers from the image under podman, "
                        "each from its pod spec (build it first: scripts/build-image.sh)")
    parser.add_argument("--router", choices=("frr", "bird", "gobgp"), default="frr",
                        help="the upstream router: FRR (default), BIRD 2 or GoBGP (GoBGP "
                        "keeps routes in its RIB only, no kernel table)")
    parser.add_argument("--topology", choices=("flat", "packet"), default="flat",
                        help="flat: one router on the nodes' link (default); packet: the "
                        "Packet / Equinix Metal setup, two provider routers at "
                        "169.254.255.1/.2 behind a gateway, eBGP multihop with MD5, all "
                        "BGP parameters in the Nodes' metal.equinix.com/* annotations")
    parser.add_argument("--config-format", choices=("crds", "configmap"), default="crds",
                        help="crds: the config as metallb.io objects, peers from the Nodes' "
                        "annotations written out per node (default); configmap: the legacy "
                        "ConfigMap with Packet peer autodiscovery, as the component renders "
                        "it")
    parser.add_argument("--prometheus-operator", action="store_true",
                        help="serve the Prometheus Operator's CRDs (ServiceMonitor, "
                        "PrometheusRule), which a config with service_monitor = true needs")
    _lab_location_arguments(parser)


def add_up(lab_sub: argparse._SubParsersAction) -> None:
    parser = lab_sub.add_parser(
        "up", help="start the lab: FRR router, nodes, API emulator, controller, speakers",
        description="Create a router namespace running FRR and N node namespaces, start the "
        "Kubernetes API emulator, apply the component, start the controller and a speaker "
        "per node; return once every BGP session is Established.")
    _up_arguments(parser)
    parser.add_argument("--prometheus", action="store_true",
                        help="also run Prometheus scraping the controller and speakers")
    parser.set_defaults(handler=run_up)


def _up_options(args: argparse.Namespace, prometheus: bool):
    from lab.cluster import UpOptions

    return UpOptions(nodes=args.nodes, config=args.config, prometheus=prometheus,
                     state_dir=args.state_dir, prefix=args.prefix, timeout=args.timeout,
                     containers=args.containers,
                     router=args.router, topology=args.topology,
                     prometheus_operator=args.prometheus_operator,
                     config_format=args.config_format)


def _lab_errors(action: Callable[[], int], command: str) -> int:
    """LabError -> its message and exit status 1, never a traceback."""
    from lab.errors import LabError

    try:
        return action()
    except LabError as err:
        print(f"metallb lab {command}: {err}", file=sys.stderr)
        return 1


def run_up(args: argparse.Namespace) -> int:
    from lab.cluster import status, up
    from lab.summary import format_status

    def run() -> int:
        state = up(_up_options(args, args.prometheus), progress=_progress)
        print(format_status(status(state.state_dir) or {}))
        return 0

    return _lab_errors(run, "up")


def _progress(line: str) -> None:
    print(f"  {line}", flush=True)


def add_status(lab_sub: argparse._SubParsersAction) -> None:
    parser = lab_sub.add_parser("status", help="show the running lab",
                                description="Show the lab: paths, nodes, PIDs, BGP sessions. "
                                "Exit status 1 when no lab is up.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    _lab_location_arguments(parser)
    parser.set_defaults(handler=run_status)


def run_status(args: argparse.Namespace) -> int:
    import json

    from lab.cluster import status
    from lab.summary import format_status

    report = status(args.state_dir)
    if report is None:
        print(f"metallb lab status: no lab is up (no state file in {args.state_dir}); start "
              "one with `metallb lab up`", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else format_status(report))
    return 0


def add_down(lab_sub: argparse._SubParsersAction) -> None:
    parser = lab_sub.add_parser("down", help="stop the lab and remove its namespaces",
                                description="Stop every lab process (SIGTERM, then SIGKILL), "
                                "stop FRR, remove the namespaces and the state directory. "
                                "Idempotent.")
    _lab_location_arguments(parser)
    parser.set_defaults(handler=run_down)


def run_down(args: argparse.Namespace) -> int:
    from lab.cluster import down

    def run() -> int:
        done = down(args.state_dir, args.prefix)
        for line in done:
            print(line)
        if not done:
            print("no lab was up; nothing to do")
        return 0

    return _lab_errors(run, "down")


def add_demo(lab_sub: argparse._SubParsersAction) -> None:
    parser = lab_sub.add_parser(
        "demo", help="run the end-to-end demo (up, services, ECMP, Prometheus, down)",
        description="Start the lab with Prometheus, create the two example services, show "
        "their addresses, the router's ECMP route, requests answered by different nodes and "
        "the metrics, then take the lab down (unless --keep).")
    _up_arguments(parser)
    parser.add_argument("--keep", action="store_true",
                        help="leave the lab running (take it down with `metallb lab down`)")
    parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from lab.demo import run

    return _lab_errors(lambda: run(_up_options(args, True), keep=args.keep), "demo")


LAB_COMMANDS: list[LabCommand] = [add_apiserver, add_up, add_status, add_down, add_demo]
