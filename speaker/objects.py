"""Reading untrusted API objects (plain dicts from the watch) without raising: a field
of the wrong type reads as empty, so one malformed object never stops a plan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_mapping(value: Any) -> bool:
    # `type(...) is dict` first: objects from the API are dicts, and the ABC check costs
    # more than the rest of a plan's per-service work.
    return type(value) is dict or isinstance(value, Mapping)


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one."""
    return value if is_mapping(value) else {}


def text(value: Any) -> str | None:
    """`value` if it is a string, else None: a list or a map where a string belongs must
    not reach a cache keyed on it (unhashable) or a parser that raises on it."""
    return value if type(value) is str else None


def str_map(value: Any) -> dict[str, str]:
    """A labels / annotations mapping as text; None values are dropped."""
    return {str(k): str(v) for k, v in mapping(value).items() if v is not None}
