"""The controller's core, without I/O: the running config and its allocator, the services
waiting for an address, the order services are handled in, and when to retry them.

Two drivers use it and nothing else decides: `controller.reconciler` (which feeds it the
Services its informer caches and carries out each Step: status write, Events, metrics)
and `metallb.allocator.dry_run.plan_allocations` (`metallb plan`, which feeds it
manifests). So `metallb plan` and the daemon decide alike by construction.

The one order: creation time, then `namespace/name` (what a controller sees: every
object the API returns has a creationTimestamp). A Service without one (a manifest that
was never applied) counts as created after every Service that has one, as if created
now; among themselves such Services go by `namespace/name`, so `metallb plan` gives the
same result whatever the order of its input file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from metallb.allocator.allocator import Allocator, Assignment, BlockedAssignment
from metallb.allocator.decision import Decision, decide, preload
from metallb.allocator.service import ServiceIntent, intent_from_service
from metallb.config.model import Config

Order = tuple[int, str, str]
"""(0, creationTimestamp, key) for created Services; (1, "", key) for the others."""


def creation_order(obj: Any, key: str) -> Order:
    """Where a Service goes in the one order (see the module docstring). RFC 3339 UTC
    timestamps as the API writes them (`...Z`) sort as text in time order."""
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    created = meta.get("creationTimestamp") if isinstance(meta, Mapping) else None
    if isinstance(created, str) and created:
        return (0, created, key)
    return (1, "", key)


@dataclass(frozen=True)
class ObservedService:
    """One Service as the core sees it: its intent and its place in the order."""

    intent: ServiceIntent
    order: Order

    @property
    def key(self) -> str:
        return self.intent.key


def observe(obj: Any, namespace_labels: Mapping[str, str] | None = None) -> ObservedService:
    """Read a Service object (API JSON or a manifest), with its Namespace's labels (for
    the pools' serviceAllocation); never raises."""
    intent = intent_from_service(obj, namespace_labels)
    return ObservedService(intent, creation_order(obj, intent.key))


def first_pass_order(services: Iterable[ObservedService]) -> list[ObservedService]:
    """The order of the first pass after a (re)start: every Service that holds an
    address in its status before the others, each group in the one order, so no
    address changes hands across a restart."""
    ordered = sorted(services, key=lambda s: s.order)
    return [s for s in ordered if s.intent.existing_ips] + [
        s for s in ordered if not s.intent.existing_ips]


@dataclass(frozen=True)
class Step:
    """What one input changed: the Decision for a Service (None when it was deleted),
    what a deletion released, the pending Services to try again now because addresses
    became free (in the one order), and whether the pool statistics changed."""

    decision: Decision | None
    released: Assignment | None = None
    retry: tuple[str, ...] = ()
    stats_changed: bool = False


APPLIED, UNCHANGED, REFUSED = "applied", "unchanged", "refused"


@dataclass(frozen=True)
class ConfigChange:
    """The outcome of a new config: APPLIED (every Service must be looked at again),
    UNCHANGED, or REFUSED (it would take addresses from `blocked`; the old one stays)."""

    outcome: str
    blocked: tuple[BlockedAssignment, ...] = ()


class ControllerCore:
    """Config, allocator and pending set of one controller.

    Always holds: without a config nothing is allocated (`allocator` is None); every
    Service whose last decision failed to allocate is pending, and no other; pending
    Services are retried in the one order as soon as an address becomes free.

    Not thread-safe: one thread (the controller's worker, or `metallb plan`) calls
    everything. Pure: no I/O, no clock.
    """

    def __init__(self, load_balancer_class: str | None = None):
        self.load_balancer_class = load_balancer_class
        self.allocator: Allocator | None = None
        self._pending: dict[str, Order] = {}

    @property
    def config(self) -> Config | None:
        return self.allocator.config if self.allocator is not None else None

    @property
    def pending(self) -> list[str]:
        """Keys of the Services waiting for an address, in the one order."""
        return sorted(self._pending, key=self._pending.__getitem__)

    def start(self, config: Config, services: Iterable[ObservedService]
              ) -> list[ObservedService]:
        """A fresh allocator on `config`, loaded with every still-valid assignment the
        statuses hold (oldest Service first: if two statuses claim one address
        incompatibly, the older keeps it) before anything is handed out; returns the
        first pass to run through decide(), in first_pass_order."""
        self.allocator = Allocator(config)
        self._pending.clear()
        ordered = first_pass_order(services)
        by_age = sorted(ordered, key=lambda s: s.order)
        preload(self.allocator, (s.intent for s in by_age), self.load_balancer_class)
        return ordered

    def reset(self) -> None:
        """Forget everything (leadership starts again: statuses are read afresh)."""
        self.allocator = None
        self._pending.clear()

    def change_config(self, config: Config) -> ConfigChange:
        """A new config for a running core (after start())."""
        assert self.allocator is not None, "start() first"
        if config == self.allocator.config:
            return ConfigChange(UNCHANGED)
        blocked = self.allocator.set_config(config)
        if blocked:
            return ConfigChange(REFUSED, tuple(blocked))
        return ConfigChange(APPLIED)

    def decide(self, service: ObservedService) -> Step:
        """Decide one Service against (and updating) the allocator."""
        allocator = self.allocator
        assert allocator is not None, "start() first"
        key = service.key
        before, releases = allocator.assignment(key), allocator.releases
        decision = decide(allocator, service.intent, self.load_balancer_class)
        if decision.failed:
            self._pending[key] = service.order
        else:
            self._pending.pop(key, None)
        return Step(decision, retry=self._retry(releases, key),
                    stats_changed=before != allocator.assignment(key))

    def delete(self, key: str) -> Step:
        """The Service is gone: release what it held."""
        allocator = self.allocator
        assert allocator is not None, "start() first"
        self._pending.pop(key, None)
        releases = allocator.releases
        held = allocator.release(key)
        return Step(None, released=held, retry=self._retry(releases, key),
                    stats_changed=held is not None)

    def _retry(self, releases_before: int, key: str) -> tuple[str, ...]:
        assert self.allocator is not None
        if self.allocator.releases == releases_before:
            return ()
        return tuple(k for k in self.pending if k != key)
