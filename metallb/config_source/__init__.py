"""Where a daemon's config comes from: the legacy ConfigMap or the metallb.io objects
(`observed`: which source, pure), and whether the running config is stale (`source`)."""

from metallb.config_source.observed import (
    AUTO,
    CONFIG_SOURCES,
    CONFIGMAP,
    CRDS,
    Observed,
    chosen_source,
)
from metallb.config_source.source import ConfigSource

__all__ = ["AUTO", "CONFIGMAP", "CONFIG_SOURCES", "CRDS", "ConfigSource", "Observed",
           "chosen_source"]
