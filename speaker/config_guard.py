"""Whether the speaker may switch to a new config: the controller's rule (rules A15, D2),
decided the same way so both daemons refuse the same configs for the same reason.

A config that would take an address from a service holding it (its pool dropped, the
address left outside every pool, a pool renamed under its annotation, ...) is refused by
the controller, which keeps the address in the Service's status. A speaker that applied
it would withdraw routes for addresses the cluster still hands out. Pure: the services
are the objects the speaker's informer holds, the allocator replays their statuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from metallb.allocator.allocator import BlockedAssignment
from metallb.allocator.core import ControllerCore, observe
from metallb.config.model import Config
from speaker.planner import assigned_ips


def blocked_services(current: Config, candidate: Config,
                     services: Iterable[Mapping[str, Any]],
                     lb_class: str | None = None) -> list[BlockedAssignment]:
    """The services whose held addresses `candidate` would take away (empty: it may be
    applied). Every assignment valid under `current` is loaded by the controller's core
    (ControllerCore.start: oldest service first) and replayed against `candidate`."""
    # Only services holding an address of the current config can block: a config change
    # with 10,000 services outside every pool (a pool being added) costs no replay.
    holders = [observe(o) for o in services
               if any(current.pool_of(ip) is not None for ip in assigned_ips(o))]
    core = ControllerCore(lb_class)  # the controller's own core: same order, same rule
    core.start(current, holders)
    return sorted(core.change_config(candidate).blocked, key=lambda b: b.key)
