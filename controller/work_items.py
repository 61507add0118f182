"""What the controller's work queue holds: a Service to reconcile, or the config.

Two types instead of one string space with a sentinel: a Service can never be mistaken
for the config whatever it is called, and the worker dispatches on the type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceKey:
    """A Service, by `namespace/name` (metallb.keys.object_key)."""

    key: str

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class ConfigKey:
    """The controller's config object (one per controller: all instances are equal)."""

    def __str__(self) -> str:
        return "config"


CONFIG = ConfigKey()

WorkItem = ServiceKey | ConfigKey
