"""Writes of metallb.io status objects through the status subresource, for the
StatusQueue's thread: a merge patch of `status` (the whole status is ours, so no read
first), creating the object first when it does not exist yet (a create ignores
`status` on a kind with the status subresource, as a real API server does)."""

from __future__ import annotations

import logging
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from metallb.kube.clock import Clock
from metallb.kube.errors import is_conflict, is_not_found
from metallb.logs import log_event
from metallb.status import config_state
from metallb.status.conditions import timestamp

GROUP, VERSION = "metallb.io", "v1beta1"
log = logging.getLogger("metallb.kube.status")


class MetallbObjects:
    """metallb.io objects of one namespace; each call bounded by `timeout` seconds.

    A kind whose CRD is not installed (an older deployment) is said once in the log and
    then skipped: its objects are information, and 10,000 retries would be noise.
    Threads: one caller at a time (the StatusQueue's thread); `missing` is its own.
    """

    def __init__(self, api_client: client.ApiClient, namespace: str, timeout: float = 10.0):
        self._api = client.CustomObjectsApi(api_client)
        self.namespace, self._timeout = namespace, timeout
        self.missing: set[str] = set()  # plurals found not installed

    def patch_status(self, plural: str, name: str, status: dict[str, Any]) -> bool:
        """Merge-patch `status` onto the object; False when it does not exist."""
        try:
            self._api.patch_namespaced_custom_object_status(
                GROUP, VERSION, self.namespace, plural, name, {"status": status},
                _preload_content=False, _request_timeout=self._timeout)
        except ApiException as err:
            if is_not_found(err):
                return False
            raise
        return True

    def create(self, kind: str, plural: str, name: str, labels: dict[str, str],
               generate: bool = False) -> str | None:
        """Create the object (status empty); its name (generated when `generate`, else
        `name`, also when it exists already); None when the kind is not installed."""
        if plural in self.missing:
            return None
        meta: dict[str, Any] = {"labels": labels}
        meta["generateName" if generate else "name"] = name
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": meta}
        try:
            created = self._api.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, body, _request_timeout=self._timeout)
        except ApiException as err:
            if not generate and is_conflict(err):
                return name
            if is_not_found(err):  # the namespace exists (the daemon reads it): no CRD
                self._missing(plural)
                return None
            raise
        return created["metadata"]["name"]

    def put_status(self, kind: str, plural: str, name: str, labels: dict[str, str],
                   status: dict[str, Any]) -> None:
        """The object `name` exists with these labels and says `status`."""
        if plural in self.missing or self.patch_status(plural, name, status):
            return
        created = self.create(kind, plural, name, labels)
        if created is not None and not self.patch_status(plural, name, status):
            raise RuntimeError(f"{plural}/{name} vanished right after its creation")

    def list(self, plural: str, label_selector: str = "") -> list[dict[str, Any]]:
        try:
            answer = self._api.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, label_selector=label_selector,
                _request_timeout=self._timeout)
        except ApiException as err:
            if is_not_found(err):
                self._missing(plural)
                return []
            raise
        return answer.get("items") or []

    def _missing(self, plural: str) -> None:
        if plural not in self.missing:
            self.missing.add(plural)
            log_event(log, "warn", "status_kind_missing", kind=f"{plural}.{GROUP}",
                      action="install the metallb.io CRDs (metallb component apply) and "
                      "restart the daemon; until then these status objects are not written")

    def delete(self, plural: str, name: str) -> None:
        """Delete the object; gone already is fine."""
        try:
            self._api.delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name, _request_timeout=self._timeout)
        except ApiException as err:
            if not is_not_found(err):
                raise


class ConfigStateWriter:
    """Writes one daemon's ConfigurationState; keeps its condition's transition time
    while the condition's status holds. One thread (the StatusQueue's) calls write()."""

    def __init__(self, objects: MetallbObjects, component: str, node: str | None,
                 clock: Clock):
        self._objects, self._clock = objects, clock
        self._name = config_state.object_name(component, node)
        self._labels = config_state.labels(component, node)
        self._transition: tuple[str, str] | None = None  # (condition status, since)

    def write(self, state: config_state.ConfigState) -> None:
        result, summary, condition = config_state.result_of(state)
        if self._transition is None or self._transition[0] != condition.status:
            self._transition = (condition.status, timestamp(self._clock.now()))
        self._objects.put_status(
            config_state.KIND, config_state.PLURAL, self._name, self._labels,
            {"result": result, "errorSummary": summary,
             "conditions": [condition.as_dict(self._transition[1])]})
