"""The one `namespace/name` key of an API object, used by caches, queues, the allocator
and the tools that check them, so a key written by one is found by the others.

Keys are interned: the informer's cache, its version history, the change queues, the
planner and the allocator each hold the key of every object, and at 100k Services one
string shared by all of them instead of one per holder is tens of MiB (issue 18)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

DEFAULT_NAMESPACE = "default"
"""Where kubectl puts a namespaced manifest that names no namespace."""


def object_key(obj: Any, default_namespace: str | None = None) -> str:
    """`namespace/name`, or `name` for a cluster-scoped object (no namespace).

    `default_namespace` stands in for a missing namespace: pass DEFAULT_NAMESPACE for
    manifests of a namespaced kind (a Service in a file), none for objects the API sent
    (they always carry theirs). Never raises: a malformed object gets name `?`.
    """
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    meta = meta if isinstance(meta, Mapping) else {}
    namespace = meta.get("namespace") or default_namespace
    name = meta.get("name") or "?"
    return sys.intern(f"{namespace}/{name}" if namespace else str(name))
