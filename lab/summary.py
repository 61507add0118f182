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
        *_router_lines(router),
        f"prometheus:  {report['prometheus_url'] or 'not running (up --prometheus)'}",
        "nodes:",
    ]
    for node in report["nodes"]:
        sessions = [s for s in report["sessions"] if s["node"] == node["name"]] or [{}]
        bgp = ", ".join(f"BGP to {s.get('peer', '?')}: {s.get('state', '?')}"
                        for s in sessions)
        lines.append(f"  {node['name']:<8} namespace {node['namespace']:<12} "
                     f"{node['address']:<15} {bgp}")
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
    lines += [f"problem: {p}" for p in report.get("problems", [])]
    if not report.get("complete", True):
        lines.append("warning: `up` did not finish; run `metallb lab down`")
    return "\n".join(lines)


def _router_lines(router: dict[str, Any]) -> list[str]:
    """One line per BGP router with how to ask it about its sessions."""
    lines = []
    for r in router.get("routers") or [router]:
        kind = r.get("kind", "frr")
        where = f"{kind} in namespace {r['namespace']}, {r['address']}"
        if kind == "frr" and router.get("vtysh_socket_dir") and len(router.get("routers",
                                                                              [])) <= 1:
            where += f", vtysh socket dir {router['vtysh_socket_dir']}"
        lines.append(f"router:      {where}")
        query = r.get("query", {}).get("sessions")
        if not query and kind == "frr" and router.get("vtysh_socket_dir"):
            query = f"vtysh --vty_socket {router['vtysh_socket_dir']} -c 'show bgp summary'"
        if query:
            lines.append(f"             ({query})")
    return lines
