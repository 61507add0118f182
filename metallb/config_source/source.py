"""Which config a daemon runs on, from its ConfigMap or its metallb.io objects, and
whether that config is stale.

New inputs only replace the running config once they parse, validate, and the
allocator accepts them (they would take no address away from a service). Anything else
keeps the last good config and sets `metallb_k8s_client_config_stale_bool` to 1, with
one error log line that says what is wrong and what to do; an invalid metallb.io object
also gets a Warning Event naming the field (there is no admission webhook to refuse it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from metallb.allocator.allocator import BlockedAssignment
from metallb.config.crds import parse_crds
from metallb.config.model import Config
from metallb.config.parse import ConfigError, parse_config_text
from metallb.config_source.observed import (
    AUTO,
    CRDS,
    Observed,
    chosen_source,
    issues_by_object,
)
from metallb.logs import log_event
from metallb.metrics import K8sClientMetrics

log = logging.getLogger("metallb.config")

INVALID_REASON = "InvalidConfig"
"""Warning Event on a metallb.io object the config cannot be built from."""
IGNORED_REASON = "ConfigMapIgnored"
"""Event on the legacy ConfigMap while metallb.io objects are the config."""


class EventSink(Protocol):
    def record(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None: ...


class ConfigSource:
    """Turns the observed config inputs into configs to apply; owns the config_* metrics.

    Always holds: `stale` is True exactly when the last inputs seen were not applied
    while a config runs (or none could be loaded); the metrics say the same. `source`
    is the source the last inputs were read from (CRDS or CONFIGMAP; None before any).
    Called by one thread (the daemon's worker or sync loop); no lock. `events` (the
    controller's recorder; None in the speaker, whose N copies would say the same N
    times) must not block.
    """

    def __init__(self, namespace: str, name: str, key: str, metrics: K8sClientMetrics,
                 *, mode: str = AUTO, read_passwords: bool = True,
                 events: EventSink | None = None):
        chosen_source(mode, Observed())  # refuses an unknown mode now, not at first use
        self.namespace, self.name, self.key = namespace, name, key
        self.mode = mode
        self._read_passwords = read_passwords
        self._events = events
        self._metrics = metrics
        self.current: Config | None = None  # the config the controller runs on
        self.stale = False
        self.problem: str | None = None  # why the last config seen was not applied
        self.source: str | None = None
        self._ignored_noted: str | None = None  # ConfigMap version the Event was about
        metrics.config_loaded.set(0)
        metrics.config_stale.set(0)

    @property
    def where(self) -> str:
        return f"configmap {self.namespace}/{self.name} key {self.key!r}"

    def _origin(self) -> dict[str, str]:
        """The log key naming where the config came from."""
        if self.source == CRDS:
            return {"crds": self.namespace}
        return {"configmap": f"{self.namespace}/{self.name}"}

    def candidate(self, observed: Observed | Mapping[str, Any] | None) -> Config | None:
        """The config the inputs hold, or None (logged, stale) when there is none to
        apply: missing, without the key, or invalid. A bare ConfigMap (or None) is
        the inputs of a daemon that watches nothing else."""
        if not isinstance(observed, Observed):
            observed = Observed(configmap=observed)
        self._choose(chosen_source(self.mode, observed), observed)
        if self.source == CRDS:
            return self._from_objects(observed)
        return self._from_configmap(observed.configmap)

    def _choose(self, source: str, observed: Observed) -> None:
        """Log a change of source; with `auto`, an Event on a ConfigMap now ignored."""
        if source != self.source:
            self.source = source
            log_event(log, "info", "config_source", source=source, mode=self.mode,
                      namespace=self.namespace, objects=len(observed.objects),
                      configmap_ignored=source == CRDS and observed.configmap is not None)
        configmap = observed.configmap
        if source != CRDS or configmap is None or self.mode != AUTO:
            self._ignored_noted = None
            return
        version = str((configmap.get("metadata") or {}).get("resourceVersion"))
        if self._events is not None and self._ignored_noted != version:
            self._events.record(dict(configmap), "Normal", IGNORED_REASON,
                                f"metallb.io objects exist in {self.namespace}: they are "
                                "the config and this ConfigMap is ignored; delete it once "
                                "the objects say what it says")
        self._ignored_noted = version

    def _from_configmap(self, configmap: Mapping[str, Any] | None) -> Config | None:
        if configmap is None:
            if self.current is None:
                log_event(log, "error", "config_missing",
                          configmap=f"{self.namespace}/{self.name}",
                          action="create it; no service gets an address until then")
                return None
            return self._keep("config_missing", "the ConfigMap was deleted; "
                              "recreate it")
        data = configmap.get("data") or {}
        if not isinstance(data, Mapping) or self.key not in data:
            return self._keep("config_key_missing",
                              f"the ConfigMap has no data key {self.key!r}; add it")
        text = data[self.key]
        try:
            return parse_config_text(text if isinstance(text, str) else str(text),
                                     source=self.where)
        except ConfigError as err:
            problems = "; ".join(str(issue) for issue in err.issues) or str(err)
            return self._keep("config_invalid", f"{problems}; fix the config")

    def _from_objects(self, observed: Observed) -> Config | None:
        if not observed.objects:
            if self.current is None:
                log_event(log, "error", "config_missing", crds=self.namespace,
                          action="create IPAddressPool, BGPPeer and BGPAdvertisement "
                          "objects; no service gets an address until then")
                return None
            return self._keep("config_missing", "every metallb.io object was deleted; "
                              "recreate them")
        inputs = [*observed.objects, *(observed.secrets if self._read_passwords else ())]
        try:
            return parse_crds(inputs, self.namespace,
                              source=f"metallb.io objects in {self.namespace}",
                              read_passwords=self._read_passwords)
        except ConfigError as err:
            for obj, issues in issues_by_object(err.issues, observed.objects):
                message = "; ".join(str(i).split(": ", 1)[-1] for i in issues)
                log_event(log, "error", "config_object_invalid",
                          object=f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}",
                          problem=message)
                if self._events is not None:
                    self._events.record(dict(obj), "Warning", INVALID_REASON,
                                        f"{message}; the last good config stays in force")
            problems = "; ".join(str(issue) for issue in err.issues) or str(err)
            return self._keep("config_invalid", f"{problems}; fix the objects")

    def applied(self, config: Config) -> None:
        first = self.current is None
        self.current = config
        self.stale = False
        self.problem = None
        self._metrics.config_loaded.set(1)
        self._metrics.config_stale.set(0)
        log_event(log, "info", "config_loaded", **self._origin(),
                  pools=",".join(p.name for p in config.pools) or None,
                  first=str(first))
        for warning in config.warnings:  # valid, but probably not what was meant
            log_event(log, "warning", "config_warning", **self._origin(),
                      path=warning.path, problem=warning.message, value=warning.value)

    def refused(self, blocked: Sequence[BlockedAssignment]) -> None:
        """The allocator refused the config: it would take addresses from services."""
        shown = "; ".join(f"{b.key} holds {','.join(b.ips)}: {b.reason}" for b in blocked)
        self._keep("config_refused",
                   f"it would take addresses from {len(blocked)} service(s) ({shown}); "
                   "keep their addresses in a pool or change those services first")

    def _keep(self, event: str, problem: str) -> None:
        self.stale = True
        self.problem = problem
        kept = "last good config" if self.current is not None else "no config (none loaded yet)"
        log_event(log, "error", event, **self._origin(), problem=problem, running_on=kept)
        self._metrics.config_stale.set(1)  # last: whoever sees the gauge finds the line too
        return None
