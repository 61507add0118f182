"""Collecting validation issues with their paths, so one pass reports every problem.

Validators never raise for bad input: they append a ConfigIssue here and return None, and
the caller keeps going. Only the top-level parser turns a non-empty collection into a
ConfigError, which is what lets `config check` list all errors at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from metallb.config.errors import ConfigIssue

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_path(base: str, key: object) -> str:
    """`base.key`, or `base["key"]` when the key has dots/slashes (label keys), so a
    path stays unambiguous: `match-labels["kubernetes.io/hostname"]`."""
    text = key if isinstance(key, str) else repr(key)
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{base}.{text}" if base else text
    quoted = '"' + text.replace('"', '\\"') + '"'
    return f"{base}[{quoted}]"


def index_path(base: str, index: int) -> str:
    return f"{base}[{index}]"


def type_name(value: object) -> str:
    """The YAML-ish name of a Python value's type, for 'must be X, not Y' messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


class Issues:
    """Append-only lists of ConfigIssue (errors in `items`, `warnings` for what is valid
    but looks like a mistake) with small helpers for the common checks."""

    def __init__(self) -> None:
        self.items: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []

    def add(self, path: str, message: str, value: object = None) -> None:
        self.items.append(ConfigIssue(path=path, message=message, value=value))

    def warn(self, path: str, message: str, value: object = None) -> None:
        """Accepted, as MetalLB accepts it, but worth telling the user about."""
        self.warnings.append(ConfigIssue(path=path, message=message, value=value))

    def __len__(self) -> int:
        return len(self.items)

    def mapping(self, value: object, path: str, what: str = "a mapping") -> Mapping | None:
        """The value if it is a mapping, else record a type issue and return None."""
        if isinstance(value, Mapping):
            return value
        self.add(path, f"must be {what}, not {type_name(value)}", _shown(value))
        return None

    def struct(self, value: object, path: str) -> Mapping | None:
        """A mapping read as MetalLB's Go decoder reads a struct: `null` decodes to the
        zero value, which upstream takes as "not given" (a nil pointer, "", false, an
        empty list). So a null item is an empty mapping and a key whose value is null is
        absent: every such field gets its default, as in every MetalLB release."""
        if value is None:
            return {}
        mapping = self.mapping(value, path)
        if mapping is None:
            return None
        return {key: item for key, item in mapping.items() if item is not None}

    def sequence(self, value: object, path: str) -> list | None:
        if isinstance(value, list | tuple):
            return list(value)
        self.add(path, f"must be a list, not {type_name(value)}", _shown(value))
        return None

    def unknown_keys(
        self,
        mapping: Mapping,
        allowed: tuple[str, ...],
        path: str,
        unsupported: Mapping[str, str] | None = None,
    ) -> None:
        """Unknown keys are errors: a typo like `peer-adress` must not be silently ignored.
        `unsupported` names MetalLB keys we know but do not implement, and why."""
        for key in mapping:
            if unsupported and key in unsupported:
                self.add(key_path(path, key), f"is not supported: {unsupported[key]}")
            elif key not in allowed:
                self.add(
                    key_path(path, key),
                    f"unknown key; allowed here: {', '.join(allowed)}",
                    key if isinstance(key, str) else repr(key),
                )


def _shown(value: object) -> object:
    """Containers are summarised by type only; a whole mapping in a message helps nobody."""
    return None if isinstance(value, Mapping | list | tuple) else value
