"""`metallb status [--kubeconfig FILE] [--namespace NS] [--json]`: one screen of what
MetalLB is doing, read from its status objects: pools (size, in use), config state per
daemon, BGP sessions per node and peer, and pending Services with their reasons.
The same command against the lab and a real cluster. Exit 0, or 2 when the API cannot
be reached."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from metallb.kube.client import load_api_client
from metallb.kube.errors import is_not_found
from metallb.kube.status_objects import GROUP, VERSION
from metallb.status.speaker_objects import SESSIONS
from metallb.status.summary import render, summarize

EXIT_OK, EXIT_NO_API = 0, 2
TIMEOUT = 15.0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "status", help="what MetalLB is doing: pools, config state, sessions, pending",
        description="Read MetalLB's status objects and Services: pools (size, in use), "
        "ConfigurationState per daemon, BGPSessionState per node and peer, and the "
        "LoadBalancer Services without an address with the reason of their "
        "metallb.io/AddressAssigned condition. Exit 0, or 2 when the API cannot be "
        "reached.")
    parser.add_argument("--kubeconfig", default=None, metavar="FILE",
                        help="kubeconfig to use (default: in-cluster, KUBECONFIG, then "
                        "~/.kube/config)")
    parser.add_argument("--namespace", default="metallb-system",
                        help="MetalLB's namespace (default: metallb-system)")
    parser.add_argument("--lb-class", dest="load_balancer_class", default=None,
                        help="the loadBalancerClass MetalLB serves (default: none)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(handler=_run)


def _custom(api: client.CustomObjectsApi, namespace: str, plural: str) -> list[dict]:
    """The namespace's objects of that kind; none when the kind is not installed."""
    try:
        answer = api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural,
                                                   _request_timeout=TIMEOUT)
    except ApiException as err:
        if is_not_found(err):
            return []
        raise
    return answer.get("items") or []


def collect(api_client: client.ApiClient, namespace: str,
            load_balancer_class: str | None = None) -> dict[str, Any]:
    custom = client.CustomObjectsApi(api_client)
    resp = client.CoreV1Api(api_client).list_service_for_all_namespaces(
        _preload_content=False, _request_timeout=TIMEOUT)
    return summarize(_custom(custom, namespace, "ipaddresspools"),
                     _custom(custom, namespace, "configurationstates"),
                     _custom(custom, namespace, SESSIONS[1]),
                     json.loads(resp.data).get("items") or [], load_balancer_class)


def _run(args: argparse.Namespace) -> int:
    try:
        api = load_api_client(args.kubeconfig)
        try:
            summary = collect(api, args.namespace, args.load_balancer_class)
        finally:
            api.close()
    except (ConfigException, ApiException, HTTPError, OSError) as err:
        print(f"metallb status: cannot read the cluster: {err}", file=sys.stderr)
        return EXIT_NO_API
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(summary))
    return EXIT_OK
