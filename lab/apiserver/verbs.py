"""Which API verb an HTTP request on a resource URL is, as data: (method, URL shape) ->
verb, the way kube-apiserver's installer maps routes. A pair not in the table is 405.

Shapes: "object" (the URL names an object), "collection" (it does not) and "watch" (a
collection GET with ?watch=true).
"""

from __future__ import annotations

from lab.apiserver import errors

VERBS: dict[tuple[str, str], str] = {
    ("GET", "object"): "get",
    ("GET", "collection"): "list",
    ("GET", "watch"): "watch",
    ("POST", "collection"): "create",
    ("PUT", "object"): "update",
    ("PUT", "collection"): "update",  # then 404/400 from the store, as before
    ("PATCH", "object"): "patch",
    ("PATCH", "collection"): "patch",
    ("DELETE", "object"): "delete",
    ("DELETE", "collection"): "deletecollection",
}


def url_shape(name: str, query: dict[str, str]) -> str:
    if name:
        return "object"
    return "watch" if query.get("watch") in ("true", "1") else "collection"


def verb_for(method: str, name: str, query: dict[str, str]) -> str:
    """The verb (RBAC's and the faults' name for it) of `method` on this URL."""
    verb = VERBS.get((method, url_shape(name, query)))
    if verb is None:
        raise errors.method_not_allowed()
    return verb
