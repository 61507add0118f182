"""Field readers the CRD kinds share (`base` is the path of the mapping read, e.g.
`IPAddressPool/a: spec`): optional typed fields, string lists without
duplicates, label-selector lists (metav1.LabelSelector spelling)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metallb.config import fields
from metallb.config.issues import Issues, index_path
from metallb.config.model import NodeSelector
from metallb.config.selectors import KUBERNETES_KEYS, parse_node_selectors


def optional_bool(spec: Mapping[str, Any], key: str, base: str, issues: Issues,
                  default: bool) -> bool:
    if key not in spec:
        return default
    value = fields.parse_bool(spec[key], f"{base}.{key}", issues)
    return default if value is None else value


def optional_int(spec: Mapping[str, Any], key: str, base: str, issues: Issues,
                 low: int, high: int) -> int | None:
    if key not in spec:
        return None
    return fields.parse_int(spec[key], f"{base}.{key}", issues, low, high)


def optional_string(spec: Mapping[str, Any], key: str, base: str,
                    issues: Issues) -> str | None:
    """A string field; "" reads as not given, as Go's omitempty does."""
    if key not in spec or spec[key] == "":
        return None
    return fields.parse_string(spec[key], f"{base}.{key}", issues)


def string_list(value: object, path: str, issues: Issues) -> tuple[str, ...]:
    """A list of non-empty strings; a repeated entry is an error, as upstream's
    validateDuplicate."""
    out: list[str] = []
    for i, item in enumerate(issues.sequence(value, path) or []):
        text = fields.parse_string(item, index_path(path, i), issues)
        if text is None:
            continue
        if text in out:
            issues.add(index_path(path, i), f"duplicate of {index_path(path, out.index(text))}",
                       text)
            continue
        out.append(text)
    return tuple(out)


def selector_list(spec: Mapping[str, Any], key: str, base: str,
                  issues: Issues) -> tuple[NodeSelector, ...]:
    """A list of label selectors (OR'd); two equal selectors are an error, as upstream's
    validateLabelSelectorDuplicate."""
    if key not in spec:
        return ()
    path = f"{base}.{key}"
    selectors = parse_node_selectors(spec[key], path, issues, KUBERNETES_KEYS)
    for i, selector in enumerate(selectors):
        if selector in selectors[:i]:
            issues.add(index_path(path, i), f"duplicate of "
                       f"{index_path(path, selectors.index(selector))}")
    return selectors
