"""`metallb plan`'s engine: drive the controller's core over Service manifests as the
controller drives it over the Services it watches, and report the result.

The drive mirrors the daemon: the first copy of each Service is the state a (re)starting
controller finds (first pass in `core.first_pass_order`); a later copy of the same
Service in the input is an update that arrives afterwards, in input order. A status the
controller would write is written back into the simulated object, and Services to retry
go through a simulated work queue (FIFO, each key once), as in the daemon.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from metallb.allocator.core import ControllerCore, ObservedService, observe
from metallb.allocator.decision import Decision, Event
from metallb.allocator.service import service_namespace
from metallb.config.model import Config


def plan_allocations(config: Config, services: Iterable[Mapping[str, Any]],
                     namespaces: Mapping[str, Mapping[str, str]] | None = None
                     ) -> dict[str, Any]:
    """Dry-run the controller over `services` (see the module docstring), `namespaces`
    giving the labels of the Namespaces (name -> labels; a missing one has none) that the
    pools' serviceAllocation.namespaceSelectors match.

    Returns {"services": {key: {"ips", "pool", "events"}}, "pools": {name: {...}}}, every
    input service present, in input order; a service's events are all those recorded
    for it, in order."""
    core = ControllerCore()
    initial: dict[str, ObservedService] = {}
    updates: list[ObservedService] = []
    labels = namespaces or {}
    for service in (observe(obj, labels.get(service_namespace(obj))) for obj in services):
        if service.key in initial:
            updates.append(service)
        else:
            initial[service.key] = service
    current = dict(initial)  # each Service as the API would hold it now
    decisions: dict[str, Decision] = {}
    events: dict[str, list[Event]] = {key: [] for key in initial}
    queue: dict[str, None] = {}

    def run(service: ObservedService) -> None:
        step = core.decide(service)
        decision = step.decision
        assert decision is not None
        decisions[service.key] = decision
        events[service.key].extend(decision.events)
        if decision.writes_status:  # the controller writes it: later reads see it
            current[service.key] = replace(
                service, intent=replace(service.intent, existing_ips=decision.ips))
        queue.update(dict.fromkeys(step.retry))

    def drain() -> None:
        while queue:
            key = next(iter(queue))
            del queue[key]
            run(current[key])

    for service in core.start(config, initial.values()):
        run(service)
    drain()
    for service in updates:
        current[service.key] = service
        run(service)
        drain()

    assert core.allocator is not None
    return {
        "services": {
            key: {
                "ips": list(decisions[key].ips),
                "pool": decisions[key].pool,
                "events": [e.as_dict() for e in events[key]],
            }
            for key in initial
        },
        "pools": {
            name: {"addresses_total": s.addresses_total, "addresses_in_use": s.addresses_in_use}
            for name, s in core.allocator.stats().items()
        },
    }
