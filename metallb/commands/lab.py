"""`metallb lab ...`: the local lab. One function per subcommand, registered on the
`lab` group's own subparsers, so `up`, `status`, `down`, `demo` can be added the same way.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable

LabCommand = Callable[[argparse._SubParsersAction], None]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("lab", help="run the local lab (Kubernetes API emulator, ...)",
                            description="Run the local lab on this machine.")
    lab_sub = parser.add_subparsers(dest="lab_command", title="lab commands")
    lab_sub.required = True
    for add in LAB_COMMANDS:
        add(lab_sub)


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
    parser.add_argument("--seed", type=int, default=None,
                        help="seed for generated names and injected faults (deterministic runs)")
    parser.add_argument("--history-limit", type=int, default=5000,
                        help="watch events kept for resuming; older resumes get 410 "
                        "(default: %(default)s)")
    parser.add_argument("--bookmark-interval", type=float, default=5.0,
                        help="seconds between watch BOOKMARK events (default: %(default)s)")
    parser.add_argument("--enforce-rbac", action="store_true",
                        help="check requests of non-admin tokens against Roles/ClusterRoles")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    parser.set_defaults(handler=run_apiserver)


def run_apiserver(args: argparse.Namespace) -> int:
    from metallb.lab.apiserver import ApiServer

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
    if problems:
        for problem in problems:
            print(f"metallb lab apiserver: {problem}", file=sys.stderr)
        return 2
    server = ApiServer(port=args.port, token=args.token, history_limit=args.history_limit,
                       seed=args.seed, bookmark_interval=args.bookmark_interval,
                       enforce_rbac=args.enforce_rbac)
    try:
        server.start()
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
        logging.getLogger("metallb.lab.apiserver").info(
            "event=apiserver_signal signal=%s", signal.Signals(signum).name)
        server.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"event=apiserver_listening url={server.url} kubeconfig={path.resolve()}", flush=True)
    server.serve_forever()
    server.stop()
    return 0


LAB_COMMANDS: list[LabCommand] = [add_apiserver]
