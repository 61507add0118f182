"""`metallb status` without I/O: one summary of what the status objects say (pools,
config state per daemon, BGP sessions per node and peer, Services waiting for an
address and why), as a dict for --json and as text for a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from metallb.status.conditions import ADDRESS_ASSIGNED, find


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    return str((meta or {}).get("name", "")) if isinstance(meta, Mapping) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def summarize(pools: Iterable[Mapping[str, Any]], states: Iterable[Mapping[str, Any]],
              sessions: Iterable[Mapping[str, Any]], services: Iterable[Mapping[str, Any]],
              load_balancer_class: str | None = None) -> dict[str, Any]:
    """Objects as the API returns them (any shape: never raises)."""
    pool_rows = []
    for pool in sorted(pools, key=_name):
        s = _status(pool)
        used = _int(s.get("assignedIPv4")) + _int(s.get("assignedIPv6"))
        size = used + _int(s.get("availableIPv4")) + _int(s.get("availableIPv6"))
        pool_rows.append({"name": _name(pool), "size": size, "inUse": used,
                          "reported": bool(s)})
    state_rows = [{"name": _name(o), "result": _status(o).get("result") or "Unknown",
                   "errorSummary": _status(o).get("errorSummary") or ""}
                  for o in sorted(states, key=_name)]
    session_rows = sorted(
        ({"node": str(_status(o).get("node", "")), "peer": str(_status(o).get("peer", "")),
          "state": str(_status(o).get("state", "")), "since": _status(o).get("since"),
          "prefixes": _int(_status(o).get("prefixesAcknowledged")),
          "lastError": _status(o).get("lastError") or ""} for o in sessions),
        key=lambda row: (row["node"], row["peer"]))
    pending = []
    for svc in services:
        spec = svc.get("spec") if isinstance(svc.get("spec"), Mapping) else {}
        if spec.get("type") != "LoadBalancer" or spec.get("loadBalancerClass") != (
                load_balancer_class):
            continue
        ingress = ((_status(svc).get("loadBalancer") or {}).get("ingress")
                   if isinstance(_status(svc).get("loadBalancer"), Mapping) else None)
        if ingress:
            continue
        meta = svc.get("metadata") if isinstance(svc.get("metadata"), Mapping) else {}
        condition = find(_status(svc).get("conditions"), ADDRESS_ASSIGNED) or {}
        pending.append({"service": f"{meta.get('namespace')}/{meta.get('name')}",
                        "reason": condition.get("reason") or "Unknown",
                        "message": condition.get("message") or "no condition written yet"})
    pending.sort(key=lambda row: row["service"])
    return {"pools": pool_rows, "configurationStates": state_rows,
            "sessions": session_rows, "pendingServices": pending}


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows,
                                                                  strict=False)]
    return ["  " + "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True))
            .rstrip() for line in (headers, *rows)]


def render(summary: Mapping[str, Any]) -> str:
    sections = (
        ("Pools", ["NAME", "SIZE", "IN USE"],
         [[p["name"], str(p["size"]) if p["reported"] else "-",
           str(p["inUse"]) if p["reported"] else "-"] for p in summary["pools"]],
         "no IPAddressPool objects"),
        ("Configuration", ["DAEMON", "RESULT", "ERRORS"],
         [[s["name"], s["result"], s["errorSummary"]]
          for s in summary["configurationStates"]], "no ConfigurationState objects"),
        ("BGP sessions", ["NODE", "PEER", "STATE", "SINCE", "PREFIXES", "LAST ERROR"],
         [[s["node"], s["peer"], s["state"], s["since"] or "-", str(s["prefixes"]),
           s["lastError"]] for s in summary["sessions"]], "no BGPSessionState objects"),
        ("Pending services", ["SERVICE", "REASON", "MESSAGE"],
         [[p["service"], p["reason"], p["message"]] for p in summary["pendingServices"]],
         "none"),
    )
    lines = []
    for title, headers, rows, empty in sections:
        lines.append(title)
        lines += _table(headers, rows) if rows else [f"  ({empty})"]
    return "\n".join(lines) + "\n"
