"""The config as metallb.io objects, for tests: install the CRDs, put a legacy config as
the objects `metallb config convert` makes of it, remove them again.

`put_objects` makes the namespace's metallb.io objects exactly the given ones (created,
replaced, or deleted), so a test switches configs the way a user runs `kubectl apply`
with pruning."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import kubernetes
import yaml
from kubernetes.client.exceptions import ApiException

from metallb.component.render import crd_objects
from metallb.config.crds.convert import convert_config
from metallb.config.parse import parse_config_text
from metallb.kube.config_informers import CONFIG_KINDS
from metallb.kube.errors import is_conflict, is_not_found

GROUP = "metallb.io"


def install_crds(api: kubernetes.client.ApiClient) -> None:
    """The metallb.io CustomResourceDefinitions (the component's); present ones stay."""
    ext = kubernetes.client.ApiextensionsV1Api(api)
    for crd in crd_objects():
        try:
            ext.create_custom_resource_definition(crd)
        except ApiException as err:
            if not is_conflict(err):
                raise


def converted(config: str | dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """The metallb.io objects for a legacy config (text or document)."""
    text = config if isinstance(config, str) else yaml.safe_dump(config)
    return list(convert_config(parse_config_text(text), namespace).objects)


def _plural(kind: str) -> tuple[str, str]:
    version, plural = CONFIG_KINDS[kind]
    return version, plural


def put_objects(api: kubernetes.client.ApiClient, namespace: str,
                objects: Iterable[dict[str, Any]]) -> None:
    """Create or replace each object; delete the namespace's other metallb.io objects."""
    custom = kubernetes.client.CustomObjectsApi(api)
    wanted: set[tuple[str, str]] = set()
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        wanted.add((kind, name))
        version, plural = _plural(kind)
        body = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
        _create_or_replace(custom, version, plural, namespace, name, body)
    for kind in CONFIG_KINDS:
        for obj in list_objects(api, namespace, kind):
            if (kind, obj["metadata"]["name"]) not in wanted:
                delete_object(api, namespace, kind, obj["metadata"]["name"])


def _create_or_replace(custom: kubernetes.client.CustomObjectsApi, version: str,
                       plural: str, namespace: str, name: str, body: dict[str, Any],
                       attempts: int = 5) -> None:
    """Create, or replace at the version just read; a conflict (the controller wrote the
    object's status in between, as it does for IPAddressPools) reads it again."""
    for attempt in range(attempts):
        try:
            current = custom.get_namespaced_custom_object(GROUP, version, namespace, plural,
                                                          name)
        except ApiException as err:
            if not is_not_found(err):
                raise
            custom.create_namespaced_custom_object(GROUP, version, namespace, plural, body)
            return
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        try:
            custom.replace_namespaced_custom_object(GROUP, version, namespace, plural, name,
                                                    body)
            return
        except ApiException as err:
            if not is_conflict(err) or attempt == attempts - 1:
                raise


def list_objects(api: kubernetes.client.ApiClient, namespace: str,
                 kind: str) -> list[dict[str, Any]]:
    version, plural = _plural(kind)
    custom = kubernetes.client.CustomObjectsApi(api)
    try:
        return custom.list_namespaced_custom_object(GROUP, version, namespace,
                                                    plural)["items"]
    except ApiException as err:
        if is_not_found(err):  # the CRD is not installed
            return []
        raise


def delete_object(api: kubernetes.client.ApiClient, namespace: str, kind: str,
                  name: str) -> None:
    version, plural = _plural(kind)
    try:
        kubernetes.client.CustomObjectsApi(api).delete_namespaced_custom_object(
            GROUP, version, namespace, plural, name)
    except ApiException as err:
        if not is_not_found(err):
            raise


def put_basic_auth_secret(core: kubernetes.client.CoreV1Api, namespace: str, name: str,
                          password: str) -> None:
    """Create or replace a kubernetes.io/basic-auth Secret holding `password`."""
    body = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"password": base64.b64encode(password.encode()).decode()}}
    try:
        core.replace_namespaced_secret(name, namespace, body)
    except ApiException as err:
        if not is_not_found(err):
            raise
        core.create_namespaced_secret(namespace, body)
