"""Apply and delete the component against a cluster with the official client.

Every object goes in by server-side apply (field manager `metallb-component`, force), so
re-applying is idempotent and another tool's fields are not clobbered silently. The
component's objects are found by its labels, never by local state: apply prunes what the
configuration no longer renders, and delete works without the configuration.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from metallb.component.labels import COMPONENT_SELECTOR, FIELD_MANAGER, NAMESPACE
from metallb.kube.errors import is_not_found
from metallb.wait import WaitTimeout, poll_until


@dataclass(frozen=True)
class KindInfo:
    api_version: str
    plural: str
    namespaced: bool

    @property
    def base_path(self) -> str:
        return f"/api/{self.api_version}" if "/" not in self.api_version else \
            f"/apis/{self.api_version}"


# Every kind render can produce, in apply order; delete goes in reverse.
KINDS: dict[str, KindInfo] = {
    "Namespace": KindInfo("v1", "namespaces", False),
    "CustomResourceDefinition": KindInfo("apiextensions.k8s.io/v1", "customresourcedefinitions",
                                         False),
    "ServiceAccount": KindInfo("v1", "serviceaccounts", True),
    "ClusterRole": KindInfo("rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": KindInfo("rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Role": KindInfo("rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": KindInfo("rbac.authorization.k8s.io/v1", "rolebindings", True),
    "ConfigMap": KindInfo("v1", "configmaps", True),
    "Community": KindInfo("metallb.io/v1beta1", "communities", True),
    "BFDProfile": KindInfo("metallb.io/v1beta1", "bfdprofiles", True),
    "BGPPeer": KindInfo("metallb.io/v1beta2", "bgppeers", True),
    "IPAddressPool": KindInfo("metallb.io/v1beta1", "ipaddresspools", True),
    "BGPAdvertisement": KindInfo("metallb.io/v1beta1", "bgpadvertisements", True),
    "L2Advertisement": KindInfo("metallb.io/v1beta1", "l2advertisements", True),
    "Service": KindInfo("v1", "services", True),
    "Deployment": KindInfo("apps/v1", "deployments", True),
    "DaemonSet": KindInfo("apps/v1", "daemonsets", True),
    "ServiceMonitor": KindInfo("monitoring.coreos.com/v1", "servicemonitors", True),
    "PrometheusRule": KindInfo("monitoring.coreos.com/v1", "prometheusrules", True),
}
CUSTOM_KINDS = ("ServiceMonitor", "PrometheusRule")  # need the Prometheus Operator's CRDs
# Served by the CRDs this component applies first; a fresh CRD takes a moment to serve.
METALLB_KINDS = ("Community", "BFDProfile", "BGPPeer", "IPAddressPool", "BGPAdvertisement",
                 "L2Advertisement")
CRD_SERVED_TIMEOUT = 30.0  # seconds
REQUEST_TIMEOUT = 30  # seconds per request; a hung API server must not hang the command


class ClusterError(Exception):
    """A failure talking to the cluster, phrased for the user (no traceback)."""


class HttpError(Exception):
    """The API answered with a status outside 2xx."""

    def __init__(self, status: int, reason: str, body: str):
        super().__init__(f"HTTP {status} {reason}")
        self.status = status
        self.reason = reason
        self.body = body


@dataclass(frozen=True)
class Action:
    """One line of apply / delete output: `<verb> <kind>/<name> [-n namespace]`."""

    verb: str  # created, configured, unchanged, pruned, deleted, absent
    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        where = f" (namespace {self.namespace})" if self.namespace else ""
        return f"{self.kind.lower()}/{self.name}{where} {self.verb}"


def _object_path(kind: str, name: str | None = None, namespace: str | None = None) -> str:
    info = KINDS[kind]
    path = info.base_path
    if info.namespaced:
        path += f"/namespaces/{namespace or NAMESPACE}"
    path += f"/{info.plural}"
    if name:
        path += f"/{name}"
    return path


def _describe(err: HttpError) -> str:
    try:
        message = json.loads(err.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return f"HTTP {err.status} {err.reason}" + (f": {message}" if message else "")


class ComponentCluster:
    """The component's objects in one cluster, through an official-client ApiClient."""

    def __init__(self, api_client: ApiClient):
        self.api = api_client

    def _call(self, method: str, path: str, body: Any = None,
              query: Iterable[tuple[str, str]] = (), content_type: str | None = None
              ) -> dict[str, Any]:
        """One request through the client's own serialisation, auth and TLS settings;
        a status outside 2xx raises HttpError."""
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        request = self.api.param_serialize(
            method, path, query_params=list(query), header_params=headers, body=body,
            auth_settings=["BearerToken"])
        try:
            response = self.api.call_api(*request, _request_timeout=REQUEST_TIMEOUT)
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as err:
            host = self.api.configuration.host
            raise ClusterError(f"cannot reach the Kubernetes API at {host}: {err}") from None
        except ApiException as err:  # the client reports TLS failures this way
            host = self.api.configuration.host
            raise ClusterError(f"cannot talk to the Kubernetes API at {host}: "
                               f"{err.reason}") from None
        if not 200 <= response.status < 300:
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
            raise HttpError(response.status, response.reason or "", text)
        return json.loads(data) if data else {}

    def _get(self, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        try:
            return self._call("GET", _object_path(kind, name, namespace))
        except HttpError as err:
            if is_not_found(err):
                return None
            raise ClusterError(f"reading {kind} {name}: {_describe(err)}") from None

    def apply(self, obj: dict[str, Any]) -> Action:
        """Server-side apply one object; say whether it was created, changed or not."""
        kind, meta = obj["kind"], obj["metadata"]
        name, namespace = meta["name"], meta.get("namespace")
        if kind in METALLB_KINDS:
            self._wait_served(obj["apiVersion"], kind)
        before = self._get(kind, name, namespace)
        try:
            after = self._call(
                "PATCH", _object_path(kind, name, namespace), body=json.dumps(obj),
                query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
                content_type="application/apply-patch+yaml",
            )
        except HttpError as err:
            if is_not_found(err) and kind in CUSTOM_KINDS:
                raise ClusterError(
                    f"the cluster does not serve {obj['apiVersion']} {kind}: install the "
                    "Prometheus Operator (its CRDs) first, or set service_monitor = false"
                ) from None
            raise ClusterError(f"applying {kind} {name}: {_describe(err)}") from None
        if before is None:
            verb = "created"
        elif before.get("metadata", {}).get("resourceVersion") == \
                after.get("metadata", {}).get("resourceVersion"):
            verb = "unchanged"
        else:
            verb = "configured"
        return Action(verb, kind, name, namespace)

    def _served(self, api_version: str, kind: str) -> bool:
        try:
            discovery = self._call("GET", KINDS[kind].base_path)
        except HttpError as err:
            if err.status != 404:
                raise ClusterError(f"discovering {api_version}: {_describe(err)}") from None
            return False
        return kind in {r.get("kind") for r in discovery.get("resources") or []}

    def _wait_served(self, api_version: str, kind: str) -> None:
        """A CRD applied a moment ago is served once established; wait for that."""
        try:
            poll_until(lambda: self._served(api_version, kind), timeout=CRD_SERVED_TIMEOUT,
                       what=f"the cluster to serve {api_version} {kind}")
        except WaitTimeout as err:
            raise ClusterError(f"{err}: is the CustomResourceDefinition established?") from None

    def check_kinds_served(self, objects: list[dict[str, Any]]) -> None:
        """Refuse before changing anything if a custom kind (ServiceMonitor, ...) is not
        served, instead of failing half-way through an apply."""
        missing = []
        for api_version, kind in sorted({(o["apiVersion"], o["kind"]) for o in objects
                                         if o["kind"] in CUSTOM_KINDS}):
            if not self._served(api_version, kind):
                missing.append(f"{api_version} {kind}")
        if missing:
            raise ClusterError(
                f"the cluster does not serve {', '.join(missing)}: install the Prometheus "
                "Operator (its CRDs) first, or set service_monitor = false")

    def list_component_objects(self) -> list[tuple[str, str, str | None]]:
        """(kind, name, namespace) of every object carrying the component's labels, in
        apply order; the namespace itself is not included."""
        found = []
        for kind in KINDS:
            if kind == "Namespace":
                continue
            try:
                listing = self._call("GET", _object_path(kind),
                                     query=[("labelSelector", COMPONENT_SELECTOR)])
            except HttpError as err:
                if is_not_found(err):  # kind not served (no CRD) or namespace absent
                    continue
                raise ClusterError(f"listing {kind}: {_describe(err)}") from None
            for item in listing.get("items") or []:
                meta = item.get("metadata") or {}
                found.append((kind, meta.get("name", ""), meta.get("namespace")))
        return found

    def delete(self, kind: str, name: str, namespace: str | None) -> Action:
        """Delete one object; an object that is already gone counts as success."""
        # A dict: the client JSON-encodes bodies sent as application/json itself.
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        try:
            self._call("DELETE", _object_path(kind, name, namespace), body=body,
                       content_type="application/json")
        except HttpError as err:
            if is_not_found(err):
                return Action("absent", kind, name, namespace)
            raise ClusterError(f"deleting {kind} {name}: {_describe(err)}") from None
        return Action("deleted", kind, name, namespace)


def _identity(obj: dict[str, Any]) -> tuple[str, str, str | None]:
    meta = obj["metadata"]
    return obj["kind"], meta["name"], meta.get("namespace")


def apply_objects(cluster: ComponentCluster, objects: list[dict[str, Any]]) -> list[Action]:
    """Apply every rendered object, then prune the component's objects not rendered."""
    cluster.check_kinds_served(objects)
    actions = [cluster.apply(obj) for obj in objects]
    wanted = {_identity(obj) for obj in objects}
    stale = [key for key in cluster.list_component_objects() if key not in wanted]
    for kind, name, namespace in reversed(stale):
        action = cluster.delete(kind, name, namespace)
        actions.append(Action("pruned", kind, name, namespace) if action.verb == "deleted"
                       else action)
    return actions


def delete_component(cluster: ComponentCluster, delete_namespace: bool) -> list[Action]:
    """Delete every object of the component (found by labels), newest kinds first."""
    actions = [cluster.delete(kind, name, namespace)
               for kind, name, namespace in reversed(cluster.list_component_objects())]
    if delete_namespace:
        actions.append(cluster.delete("Namespace", NAMESPACE, None))
    return actions
