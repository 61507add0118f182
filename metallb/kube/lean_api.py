"""The core/v1 calls the daemons make, without the typed client's models.

Importing `kubernetes.client.CoreV1Api` loads ~250 pydantic model modules: 22 MiB of
each daemon's RSS, a fifth of its budget, for return types the daemons never use (they
read raw JSON, `_preload_content=False`, everywhere). `LeanCoreV1Api` sends the same
requests through the same `ApiClient` (configuration, auth, TLS, timeouts, ApiException
on an answer outside 2xx) and returns the same raw response. A call it does not serve
(another method, or one that wants models) goes to the real CoreV1Api, imported on
first use: behaviour never depends on which class answered.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client import ApiClient

# keyword argument -> query parameter, as the generated client names them
_QUERY = {
    "_continue": "continue", "allow_watch_bookmarks": "allowWatchBookmarks",
    "dry_run": "dryRun", "field_manager": "fieldManager", "field_selector": "fieldSelector",
    "force": "force", "label_selector": "labelSelector", "limit": "limit",
    "pretty": "pretty", "resource_version": "resourceVersion",
    "resource_version_match": "resourceVersionMatch", "timeout_seconds": "timeoutSeconds",
    "watch": "watch",
}
_LOCAL = {"_preload_content", "_request_timeout"}

# method -> (HTTP verb, path; its {parameters} are the leading positional arguments, in
# the generated client's order: name before namespace, then the body if any)
_ROUTES: dict[str, tuple[str, str]] = {
    "list_service_for_all_namespaces": ("GET", "/api/v1/services"),
    "list_namespaced_config_map": ("GET", "/api/v1/namespaces/{namespace}/configmaps"),
    "list_node": ("GET", "/api/v1/nodes"),
    "list_namespace": ("GET", "/api/v1/namespaces"),
    "list_namespaced_secret": ("GET", "/api/v1/namespaces/{namespace}/secrets"),
    "read_namespaced_service": ("GET", "/api/v1/namespaces/{namespace}/services/{name}"),
    "patch_namespaced_service": ("PATCH",
                                 "/api/v1/namespaces/{namespace}/services/{name}"),
    "patch_namespaced_service_status": (
        "PATCH", "/api/v1/namespaces/{namespace}/services/{name}/status"),
    "create_namespaced_event": ("POST", "/api/v1/namespaces/{namespace}/events"),
    "patch_namespaced_event": ("PATCH", "/api/v1/namespaces/{namespace}/events/{name}"),
}


class LeanCoreV1Api:
    """Drop-in for the CoreV1Api methods in `_ROUTES`, raw responses only.

    Threads: as ApiClient (the daemons share one between threads); the typed fallback is
    created at most once per instance (a race creates two, one is dropped: harmless)."""

    def __init__(self, api_client: ApiClient):
        self.api_client = api_client
        self._typed: Any = None

    def typed(self) -> Any:
        """The real CoreV1Api on the same ApiClient (imports its models once)."""
        if self._typed is None:
            from kubernetes.client.api.core_v1_api import CoreV1Api

            self._typed = CoreV1Api(self.api_client)
        return self._typed

    def __getattr__(self, name: str) -> Any:
        route = _ROUTES.get(name)
        if route is None:
            if name.startswith("_"):
                raise AttributeError(name)
            return getattr(self.typed(), name)
        return lambda *args, **kwargs: self._call(name, route, args, kwargs)

    def _call(self, name: str, route: tuple[str, str], args: tuple, kwargs: dict) -> Any:
        verb, path = route
        params = [p.split("}")[0] for p in path.split("{")[1:]]
        order = sorted(params, key=lambda p: p != "name")  # name, then namespace
        takes_body = verb in ("POST", "PATCH")
        extra = set(kwargs) - set(_QUERY) - _LOCAL - set(order) - {"body"}
        if kwargs.get("_preload_content", True) or extra or \
                len(args) > len(order) + takes_body:
            return getattr(self.typed(), name)(*args, **kwargs)
        values = dict(zip([*order, "body"] if takes_body else order, args, strict=False))
        values.update({k: kwargs[k] for k in (*order, "body") if k in kwargs})
        body = values.pop("body", None)
        headers = {"Accept": "application/json"}
        if verb == "PATCH":
            # what the generated client ends up sending: a list is a JSON patch, an
            # object a strategic merge patch (kubernetes.client.rest); a POST goes
            # without a Content-Type, as there (the body is JSON either way)
            headers["Content-Type"] = ("application/json-patch+json" if isinstance(body, list)
                                       else "application/strategic-merge-patch+json")
        query = [(_QUERY[k], v) for k, v in kwargs.items() if k in _QUERY and v is not None]
        request = self.api_client.param_serialize(
            method=verb, resource_path=path, path_params=values, query_params=query,
            header_params=headers, body=body, auth_settings=["BearerToken"])
        return self.api_client._call_with_legacy_options(
            request, {}, None, False, kwargs.get("_request_timeout"), True)
