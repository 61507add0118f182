"""The decision for one Service: which addresses its status should hold, and which events
to record. Pure: `metallb.allocator.core` calls it for the controller (which applies the
Decision: status write, Events, metrics) and for `metallb plan` (which prints it), so
both always agree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from metallb.allocator import reasons
from metallb.allocator.allocator import AllocationError, Allocator
from metallb.allocator.service import LOAD_BALANCER, ServiceIntent

NORMAL = "Normal"
WARNING = "Warning"
IP_ALLOCATED = "IPAllocated"
ALLOCATION_FAILED = "AllocationFailed"
LOAD_BALANCER_FAILED = "LoadBalancerFailed"
CLEAR_ASSIGNMENT = "ClearAssignment"


@dataclass(frozen=True)
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "reason": self.reason, "message": self.message}


@dataclass(frozen=True)
class Decision:
    """What to do with one Service.

    `ips` is what status.loadBalancer.ingress must hold (IPv4 first; empty = cleared);
    `status_changed` tells the controller whether a write is needed at all. `ours` is
    False for services this controller does not handle (not LoadBalancer, or another
    loadBalancerClass); `foreign` marks another implementation's LoadBalancer, whose
    status and annotations are never touched.
    """

    key: str
    ours: bool
    ips: tuple[str, ...] = ()
    pool: str | None = None
    events: tuple[Event, ...] = ()
    status_changed: bool = False
    failed: bool = False  # AllocationFailed: worth retrying when an address is freed
    foreign: bool = False
    reason: str = reasons.ASSIGNED  # metallb.allocator.reasons: why it holds `ips` or none
    message: str = ""  # the same for humans (its AddressAssigned condition's message)

    @property
    def writes_status(self) -> bool:
        """The controller writes status.loadBalancer: it differs, and is ours to write."""
        return self.status_changed and not self.foreign


def is_ours(intent: ServiceIntent, load_balancer_class: str | None = None) -> bool:
    """As upstream MetalLB: without --lb-class we serve services that set no class; with
    it, exactly the services of that class (unclassed ones belong to the default
    implementation, which is then somebody else)."""
    return intent.type == LOAD_BALANCER and intent.load_balancer_class == load_balancer_class


def decide(
    allocator: Allocator, intent: ServiceIntent, load_balancer_class: str | None = None
) -> Decision:
    """Run the allocation rules for one service against (and updating) the allocator."""
    key = intent.key
    cleared = bool(intent.existing_ips)
    if not is_ours(intent, load_balancer_class):
        allocator.release(key)
        if intent.type == LOAD_BALANCER:
            # Another implementation's LoadBalancer (another class; or, under --lb-class,
            # no class at all): its status is none of our business, never cleared.
            return Decision(key, ours=False, status_changed=cleared, foreign=True,
                            reason=reasons.NOT_OURS,
                            message=f"loadBalancerClass {intent.load_balancer_class!r} "
                                    "is served by another implementation")
        return Decision(key, ours=False, status_changed=cleared, reason=reasons.NOT_OURS,
                        message="not a LoadBalancer Service")
    if intent.error:
        allocator.release(key)
        event = Event(WARNING, LOAD_BALANCER_FAILED, intent.error)
        return Decision(key, ours=True, events=(event,), status_changed=cleared,
                        reason=reasons.INVALID_REQUEST, message=intent.error)

    events: list[Event] = []
    if intent.existing_ips:
        try:
            held = allocator.assign(intent, _parse_ips(intent.existing_ips))
            ips = held.ip_strings
            return Decision(key, True, ips, held.pool, status_changed=ips != intent.existing_ips,
                            message=_assigned(held.pool, ips))
        except AllocationError as exc:
            allocator.release(key)
            shown = ", ".join(intent.existing_ips)
            events.append(
                Event(NORMAL, CLEAR_ASSIGNMENT, f"current IP {shown} not allowed: {exc}; clearing")
            )

    try:
        held = allocator.allocate(intent)
    except AllocationError as exc:
        allocator.release(key)
        events.append(
            Event(WARNING, ALLOCATION_FAILED, f'Failed to allocate IP for "{key}": {exc}')
        )
        return Decision(key, True, events=tuple(events), status_changed=cleared, failed=True,
                        reason=exc.reason, message=f"cannot allocate an address: {exc}")
    ips = held.ip_strings
    events.append(Event(NORMAL, IP_ALLOCATED, f"Assigned IP {', '.join(ips)}"))
    return Decision(key, True, ips, held.pool, tuple(events), ips != intent.existing_ips,
                    message=_assigned(held.pool, ips))


def _assigned(pool: str, ips: tuple[str, ...]) -> str:
    return f"{', '.join(ips)} from pool {pool!r}"


def _parse_ips(texts: Iterable[str]) -> tuple:
    try:
        return tuple(ipaddress.ip_address(text) for text in texts)
    except ValueError as exc:
        raise AllocationError(str(exc), reasons.INVALID_REQUEST) from None


def preload(
    allocator: Allocator,
    intents: Iterable[ServiceIntent],
    load_balancer_class: str | None = None,
) -> list[str]:
    """Load every still-valid assignment found in service statuses, in order, before
    anything is allocated; returns the keys loaded.

    Without this pass, a service whose status is invalid (cleared and re-allocated)
    could be handed an address that a later service still holds in its status, and
    that service would lose it: an address would change hands across a restart."""
    loaded = []
    for intent in intents:
        if not intent.existing_ips or intent.error or not is_ours(intent, load_balancer_class):
            continue
        try:
            allocator.assign(intent, _parse_ips(intent.existing_ips))
        except AllocationError:
            continue  # judged (and cleared) by its own reconcile
        loaded.append(intent.key)
    return loaded
