"""Fault injection: make the emulator misbehave on purpose, deterministically when
seeded, so retry, relist and conflict handling in our daemons can be tested.

Usable from Python (`server.faults.fail_share(0.3, verbs={"patch"})`) and from another
process through `/_emulator/faults` (see handler.py), which speaks `to_dict` / `configure`.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Scope:
    """Which requests a fault applies to: verbs like "get", "list", "watch", "create",
    "update", "patch", "delete"; resources like "services" or "services/status".
    Empty means all."""

    verbs: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()

    def covers(self, verb: str, resource: str) -> bool:
        base = resource.split("/", 1)[0]
        return (not self.verbs or verb in self.verbs) and (
            not self.resources or resource in self.resources or base in self.resources)

    def to_dict(self) -> dict[str, Any]:
        return {"verbs": sorted(self.verbs), "resources": sorted(self.resources)}


def _scope(verbs: Any = None, resources: Any = None) -> Scope:
    return Scope(frozenset(verbs or ()), frozenset(resources or ()))


@dataclass
class ErrorShare:
    share: float
    code: int
    scope: Scope


@dataclass
class ForcedStatus:
    code: int
    remaining: int
    scope: Scope


@dataclass
class Latency:
    seconds: float
    scope: Scope


@dataclass
class Decision:
    """What to do with one request: wait `latency` seconds, then fail with `code` (or not)."""

    latency: float = 0.0
    code: int | None = None


@dataclass
class Faults:
    seed: int | None = None
    errors: list[ErrorShare] = field(default_factory=list)
    forced: list[ForcedStatus] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)
    injected: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self._actions: dict[str, Any] = {}

    def bind_actions(self, cut_watches: Any, expire_history: Any) -> None:
        """The server hands in its store operations for the immediate faults."""
        self._actions = {"cut_watches": cut_watches, "expire_history": expire_history}

    # ------------------------------------------------------------------ configuration

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.seed = seed
            self._random = random.Random(seed)

    def fail_share(self, share: float, code: int = 500, verbs: Any = None,
                   resources: Any = None) -> None:
        """Fail this share (0..1) of matching requests with `code`."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be between 0 and 1, got {share}")
        with self._lock:
            self.errors.append(ErrorShare(share, code, _scope(verbs, resources)))

    def force_status(self, code: int, count: int = 1, verbs: Any = None,
                     resources: Any = None) -> None:
        """Answer the next `count` matching requests with `code` (409, 410, 500 ...).
        A forced 410 on a watch arrives as an ERROR event, as expiry does for real."""
        with self._lock:
            self.forced.append(ForcedStatus(code, count, _scope(verbs, resources)))

    def add_latency(self, seconds: float, verbs: Any = None, resources: Any = None) -> None:
        with self._lock:
            self.latencies.append(Latency(seconds, _scope(verbs, resources)))

    def cut_watches(self) -> int:
        """Close every open watch stream now; returns how many were open."""
        return int(self._actions["cut_watches"]())

    def expire_history(self) -> None:
        """Forget the watch history now: resuming from any earlier version gets 410."""
        self._actions["expire_history"]()

    def clear(self) -> None:
        with self._lock:
            self.errors.clear()
            self.forced.clear()
            self.latencies.clear()

    # ------------------------------------------------------------------------ decision

    def decide(self, verb: str, resource: str) -> Decision:
        with self._lock:
            latency = sum(lat.seconds for lat in self.latencies if lat.scope.covers(verb,
                                                                                    resource))
            for forced in self.forced:
                if forced.remaining > 0 and forced.scope.covers(verb, resource):
                    forced.remaining -= 1
                    self.injected += 1
                    self.forced = [f for f in self.forced if f.remaining > 0]
                    return Decision(latency, forced.code)
            for rule in self.errors:
                if rule.scope.covers(verb, resource) and self._random.random() < rule.share:
                    self.injected += 1
                    return Decision(latency, rule.code)
            return Decision(latency, None)

    # ---------------------------------------------------------------- over HTTP (JSON)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seed": self.seed,
                "injected": self.injected,
                "errors": [dict(share=e.share, code=e.code, **e.scope.to_dict())
                           for e in self.errors],
                "forced": [dict(code=f.code, count=f.remaining, **f.scope.to_dict())
                           for f in self.forced],
                "latencies": [dict(seconds=lat.seconds, **lat.scope.to_dict())
                              for lat in self.latencies],
            }

    def configure(self, request: dict[str, Any]) -> dict[str, Any]:
        """Apply one JSON request, e.g. {"action": "fail_share", "share": 0.5,
        "verbs": ["patch"]}; actions: seed, fail_share, force_status, add_latency,
        cut_watches, expire_history, clear. Raises ValueError with a clear message."""
        action = request.get("action")
        scope = {"verbs": request.get("verbs"), "resources": request.get("resources")}
        try:
            if action == "seed":
                self.reseed(int(request["seed"]))
            elif action == "fail_share":
                self.fail_share(float(request["share"]), int(request.get("code", 500)), **scope)
            elif action == "force_status":
                self.force_status(int(request["code"]), int(request.get("count", 1)), **scope)
            elif action == "add_latency":
                self.add_latency(float(request["seconds"]), **scope)
            elif action == "cut_watches":
                return {"cut": self.cut_watches()}
            elif action == "expire_history":
                self.expire_history()
            elif action == "clear":
                self.clear()
            else:
                raise ValueError(
                    f"unknown action {action!r}: use one of seed, fail_share, force_status, "
                    "add_latency, cut_watches, expire_history, clear")
        except KeyError as exc:
            raise ValueError(f"action {action!r} needs the field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"action {action!r}: {exc}") from None
        return self.to_dict()

