"""Which config a daemon runs on, from its ConfigMap, and whether that config is stale.

A new ConfigMap only replaces the running config once it parses, validates, and the
allocator accepts it (it would take no address away from a service). Anything else
keeps the last good config and sets `metallb_k8s_client_config_stale_bool` to 1, with
one error log line that says what is wrong and what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from metallb.allocator.allocator import BlockedAssignment
from metallb.config.model import Config
from metallb.config.parse import ConfigError, parse_config_text
from metallb.logs import log_event
from metallb.metrics import K8sClientMetrics

log = logging.getLogger("metallb.config")


class ConfigSource:
    """Turns ConfigMap objects into configs to apply; owns the config_* metrics.

    Always holds: `stale` is True exactly when the last ConfigMap seen was not applied
    while a config runs (or none could be loaded); the metrics say the same. Called by
    one thread (the daemon's worker); no lock.
    """

    def __init__(self, namespace: str, name: str, key: str, metrics: K8sClientMetrics):
        self.namespace, self.name, self.key = namespace, name, key
        self._metrics = metrics
        self.current: Config | None = None  # the config the controller runs on
        self.stale = False
        self.problem: str | None = None  # why the last config seen was not applied
        metrics.config_loaded.set(0)
        metrics.config_stale.set(0)

    @property
    def where(self) -> str:
        return f"configmap {self.namespace}/{self.name} key {self.key!r}"

    def candidate(self, configmap: dict[str, Any] | None) -> Config | None:
        """The config the ConfigMap holds, or None (logged, stale) when there is none to
        apply: missing, without the key, or invalid."""
        if configmap is None:
            if self.current is None:
                log_event(log, "error", "config_missing",
                          configmap=f"{self.namespace}/{self.name}",
                          action="create it; no service gets an address until then")
                return None
            return self._keep("config_missing", "the ConfigMap was deleted; "
                              "recreate it")
        data = configmap.get("data") or {}
        if not isinstance(data, dict) or self.key not in data:
            return self._keep("config_key_missing",
                              f"the ConfigMap has no data key {self.key!r}; add it")
        text = data[self.key]
        try:
            return parse_config_text(text if isinstance(text, str) else str(text),
                                     source=self.where)
        except ConfigError as err:
            problems = "; ".join(str(issue) for issue in err.issues) or str(err)
            return self._keep("config_invalid", f"{problems}; fix the config")

    def applied(self, config: Config) -> None:
        first = self.current is None
        self.current = config
        self.stale = False
        self.problem = None
        self._metrics.config_loaded.set(1)
        self._metrics.config_stale.set(0)
        log_event(log, "info", "config_loaded", configmap=f"{self.namespace}/{self.name}",
                  pools=",".join(p.name for p in config.pools) or None,
                  first=str(first))
        for warning in config.warnings:  # valid, but probably not what was meant
            log_event(log, "warning", "config_warning", configmap=f"{self.namespace}/{self.name}",
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
        self._metrics.config_stale.set(1)
        kept = "last good config" if self.current is not None else "no config (none loaded yet)"
        log_event(log, "error", event, configmap=f"{self.namespace}/{self.name}",
                  problem=problem, running_on=kept)
        return None
