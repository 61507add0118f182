"""Parse the lines ExaBGP writes to its API process (encoder json, neighbor-changes).

Three kinds matter: an ack (`done` / `error`, one per command, NOT in command order), a
session state change (`connected`, `up`, `down` with a reason) and ExaBGP's own shutdown
notification. Anything else is returned as `Other` so the driver can log it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Ack:
    ok: bool


@dataclass(frozen=True)
class StateChange:
    peer: str
    local: str
    state: str  # "connected", "up", "down"
    reason: str | None = None


@dataclass(frozen=True)
class Shutdown:
    """ExaBGP announced it is shutting down (SIGTERM or fatal error)."""


@dataclass(frozen=True)
class Other:
    line: str


Event = Ack | StateChange | Shutdown | Other


def parse_line(line: str) -> Event:
    text = line.strip()
    if text == "done":
        return Ack(ok=True)
    if text == "error":
        return Ack(ok=False)
    if not text.startswith("{"):
        return Other(text)
    try:
        msg = json.loads(text)
    except json.JSONDecodeError:
        return Other(text)
    kind = msg.get("type")
    if kind == "state":
        neighbor = msg.get("neighbor", {})
        address = neighbor.get("address", {})
        return StateChange(
            peer=str(address.get("peer", "")),
            local=str(address.get("local", "")),
            state=str(neighbor.get("state", "")),
            reason=neighbor.get("reason"),
        )
    if kind == "notification" and msg.get("notification") == "shutdown":
        return Shutdown()
    return Other(text)
