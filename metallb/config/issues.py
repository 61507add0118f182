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
    """An append-only list of ConfigIssue with small helpers for the common checks."""

    def __init__(self) -> None:
        self.items: list[ConfigIssue] = []

    def add(self, path: str, message: str, value: object = None) -> None:
        self.items.append(ConfigIssue(path=path, message=message, value=value))

    def __len__(self) -> int:
        return len(self.items)

    def mapping(self, value: object, path: str, what: str = "a mapping") -> Mapping | None:
        """The value if it is a mapping, else record a type issue and return None."""
        if isinstance(value, Mapping):
            return value
        self.add(path, f"must be {what}, not {type_name(value)}", _shown(value))
        return None

    def sequence(self, value: object, path: str) -> list | None:
        if isinstance(value, list | tuple):
            return list(value)
        self.add(path, f"must be a list, not {type_name(value)}", _shown(value))
        return None

    def unknown_keys(self, mapping: Mapping, allowed: tuple[str, ...], path: str) -> None:
        """Unknown keys are errors: a typo like `peer-adress` must not be silently ignored."""
        for key in mapping:
            if key not in allowed:
                self.add(
                    key_path(path, key),
                    f"unknown key; allowed here: {', '.join(allowed)}",
                    key if isinstance(key, str) else repr(key),
                )


def _shown(value: object) -> object:
    """Containers are summarised by type only; a whole mapping in a message helps nobody."""
    return None if isinstance(value, Mapping | list | tuple) else value
