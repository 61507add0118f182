"""The human form of `metallb lab status` (and the summary `up` prints). Pure."""

from __future__ import annotations

from typing import Any


def format_status(report: dict[str, Any]) -> str:
    if not report:
        return "no lab"
    router = report["router"]
    lines = [
        f"state dir:   {report['state_dir']}",
        f"kubeconfig:  {report['kubeconfig']}   (kubectl --kubeconfig {report['kubeconfig']} "
        "get nodes)",
        f"router:      namespace {router['namespace']}, {router['address']}, vtysh socket dir "
        f"{router['vtysh_socket_dir']}",
        f"             (vtysh --vty_socket {router['vtysh_socket_dir']} -c 'show bgp summary')",
        f"prometheus:  {report['prometheus_url'] or 'not running (up --prometheus)'}",
        "nodes:",
    ]
    sessions = {s["node"]: s for s in report["sessions"]}
    for node in report["nodes"]:
        session = sessions.get(node["name"], {})
        lines.append(f"  {node['name']:<8} namespace {node['namespace']:<12} "
                     f"{node['address']:<15} BGP to {session.get('peer', '?')}: "
                     f"{session.get('state', '?')}")
    lines.append("processes:")
    for p in report["processes"]:
        state = "running" if p["running"] else "NOT RUNNING"
        extra = f" metrics http://{p['metrics']}/metrics" if p.get("metrics") else ""
        log = f" log {p['log']}" if p.get("log") else ""
        lines.append(f"  {p['name']:<16} pid {p['pid']:<8} {state}{extra}{log}")
        if p.get("probes"):  # `up --containers`: the pod's probes, polled now
            lines.append("  " + " " * 16 + " probes: " + ", ".join(
                f"{what} -> {result}" for what, result in p["probes"].items()))
    if report.get("containers"):
        lines.append(f"containers:  {' '.join(report['containers'])} (podman inspect NAME)")
    if not report.get("complete", True):
        lines.append("warning: `up` did not finish; run `metallb lab down`")
    return "\n".join(lines)
