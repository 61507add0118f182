"""The informers a daemon reads its config from: the legacy ConfigMap, the metallb.io
kinds, and (speaker only) the basic-auth Secrets of the MetalLB namespace, as one
`Observed` snapshot.

Which are watched follows `--config-source`: `configmap` watches the ConfigMap only (as
before the metallb.io API existed, with the same RBAC), `crds` the objects only, `auto`
both. A metallb.io kind whose CustomResourceDefinition is not installed reads as no
objects and is listed again every `missing_retry` seconds: installing the CRDs later
needs no daemon restart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from kubernetes import client

from metallb.config.crds.objects import GROUP
from metallb.config_source import ConfigSource
from metallb.config_source.observed import AUTO, CONFIG_SOURCES, CONFIGMAP, CRDS, Observed
from metallb.config_source.source import EventSink
from metallb.daemon_cli import DaemonSettings
from metallb.kube.informer import Handler, Informer
from metallb.kube.lean_api import LeanCoreV1Api
from metallb.metrics import K8sClientMetrics

# kind -> (version listed, plural). BGPPeer is listed at v1beta2, its storage version.
CONFIG_KINDS: dict[str, tuple[str, str]] = {
    "IPAddressPool": ("v1beta1", "ipaddresspools"),
    "BGPPeer": ("v1beta2", "bgppeers"),
    "BGPAdvertisement": ("v1beta1", "bgpadvertisements"),
    "Community": ("v1beta1", "communities"),
    "BFDProfile": ("v1beta1", "bfdprofiles"),
    "L2Advertisement": ("v1beta1", "l2advertisements"),
}
BASIC_AUTH = "kubernetes.io/basic-auth"


class ConfigInformers:
    """The config inputs of one daemon, kept by informers.

    Always holds: `informers` are exactly the ones `mode` needs; `observed()` sets
    `kind` and `apiVersion` on every object (list responses may omit them).

    Threads: start / stop from the owner; `observed`, `synced` from any thread (the
    informers' reads are locked); `handler` runs on the informer threads and must not
    block.
    """

    def __init__(self, api: client.ApiClient, namespace: str, config_name: str,
                 handler: Handler, *, mode: str = AUTO, secrets: bool = False,
                 missing_retry: float = 10.0):
        if mode not in CONFIG_SOURCES:
            raise ValueError(f"mode must be one of {', '.join(CONFIG_SOURCES)}, got {mode!r}")
        core = LeanCoreV1Api(api)
        self.mode = mode
        self.config_map: Informer | None = None
        self.kinds: dict[str, Informer] = {}
        self.secrets: Informer | None = None
        if mode != CRDS:
            self.config_map = Informer(
                "config", core.list_namespaced_config_map, handler, namespace=namespace,
                field_selector=f"metadata.name={config_name}")
        if mode != CONFIGMAP:
            custom = client.CustomObjectsApi(api)
            for kind, (version, plural) in CONFIG_KINDS.items():
                lister: Callable[..., Any] = functools.partial(
                    custom.list_namespaced_custom_object, GROUP, version, namespace, plural)
                self.kinds[kind] = Informer(f"config-{plural}", lister, handler,
                                            missing_retry=missing_retry)
            if secrets:
                self.secrets = Informer(
                    "config-secrets", core.list_namespaced_secret, handler,
                    namespace=namespace, field_selector=f"type={BASIC_AUTH}")
        self.informers: tuple[Informer, ...] = tuple(
            i for i in (self.config_map, *self.kinds.values(), self.secrets) if i is not None)

    def start(self) -> None:
        for informer in self.informers:
            informer.start()

    def stop(self) -> None:
        for informer in self.informers:
            informer.stop()

    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers)

    def observed(self) -> Observed:
        configmap = None
        if self.config_map is not None:
            items = self.config_map.items()
            configmap = _typed(items[0], "v1", "ConfigMap") if items else None
        objects = tuple(
            _typed(obj, f"{GROUP}/{CONFIG_KINDS[kind][0]}", kind)
            for kind, informer in self.kinds.items()
            for obj in sorted(informer.items(), key=_name))
        secrets = () if self.secrets is None else tuple(
            _typed(obj, "v1", "Secret") for obj in sorted(self.secrets.items(), key=_name))
        return Observed(configmap, objects, secrets)


def config_reading(api: client.ApiClient, settings: DaemonSettings, handler: Handler,
                   metrics: K8sClientMetrics, *, passwords: bool,
                   events: EventSink | None = None) -> tuple[ConfigInformers, ConfigSource]:
    """A daemon's config inputs and the source judging them, as `settings` say.
    `passwords`: watch the basic-auth Secrets and read BGPPeer passwords from them (the
    speaker); without, no Secret is ever read (the controller needs no password)."""
    s = settings
    inputs = ConfigInformers(api, s.namespace, s.config_name, handler, mode=s.config_source,
                             secrets=passwords, missing_retry=s.config_kind_retry)
    source = ConfigSource(s.namespace, s.config_name, s.config_key, metrics,
                          mode=s.config_source, read_passwords=passwords, events=events)
    return inputs, source


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name"))


def _typed(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    if obj.get("kind") == kind and obj.get("apiVersion"):
        return obj
    return {**obj, "apiVersion": obj.get("apiVersion") or api_version, "kind": kind}
