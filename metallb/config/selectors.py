"""`node-selectors[]` parsing: Kubernetes label selectors (match-labels / match-expressions)."""

from __future__ import annotations

import re

from metallb.config.issues import Issues, index_path, key_path, type_name
from metallb.config.model import NodeSelector, SelectorRequirement

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_PREFIX = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def parse_label_key(
    value: object, path: str, issues: Issues, what: str = "label key"
) -> str | None:
    """A Kubernetes qualified name (`prefix/name`), as used for label and annotation keys."""
    if not isinstance(value, str):
        issues.add(path, f"{what} must be a string, not {type_name(value)}", value)
        return None
    prefix, _, name = value.rpartition("/")
    if not _NAME.fullmatch(name) or ("/" in value and not _PREFIX.fullmatch(prefix)):
        issues.add(
            path,
            f"is not a valid {what} ([prefix/]name: letters, digits, '-', '_', '.'; "
            "name at most 63 characters)",
            value,
        )
        return None
    return value


def _parse_label_value(value: object, path: str, issues: Issues) -> str | None:
    if value is None:
        return ""  # Go's decoder gives a string field its zero value, a valid label value
    if not isinstance(value, str):
        hint = ' (quote it: "true")' if isinstance(value, bool | int | float) else ""
        issues.add(path, f"label value must be a string, not {type_name(value)}{hint}", value)
        return None
    if not _VALUE.fullmatch(value):
        issues.add(path, "is not a valid label value (at most 63 of letters, digits, '-_.')", value)
        return None
    return value


LEGACY_KEYS = ("match-labels", "match-expressions")
KUBERNETES_KEYS = ("matchLabels", "matchExpressions")  # metav1.LabelSelector, in CRDs


def parse_node_selectors(
    value: object, path: str, issues: Issues, keys: tuple[str, str] = LEGACY_KEYS
) -> tuple[NodeSelector, ...]:
    """The list is OR'd by the model; here we only validate and build it. `keys` names
    the two selector fields: the legacy file's spelling or Kubernetes' own."""
    entries = issues.sequence(value, path)
    if entries is None:
        return ()
    selectors = []
    for i, raw in enumerate(entries):
        selector = parse_label_selector(raw, index_path(path, i), issues, keys)
        if selector is not None:
            selectors.append(selector)
    return tuple(selectors)


def parse_label_selector(
    raw: object, path: str, issues: Issues, keys: tuple[str, str] = LEGACY_KEYS
) -> NodeSelector | None:
    labels_key, expressions_key = keys
    mapping = issues.struct(raw, path)
    if mapping is None:
        return None
    issues.unknown_keys(mapping, keys, path)
    before = len(issues)
    labels: list[tuple[str, str]] = []
    if labels_key in mapping:
        labels_path = f"{path}.{labels_key}"
        raw_labels = issues.mapping(mapping[labels_key], labels_path)
        for key, val in (raw_labels or {}).items():
            entry_path = key_path(labels_path, key)
            k = parse_label_key(key, entry_path, issues)
            v = _parse_label_value(val, entry_path, issues)
            if k is not None and v is not None:
                labels.append((k, v))
    expressions: list[SelectorRequirement] = []
    if expressions_key in mapping:
        exprs_path = f"{path}.{expressions_key}"
        for i, raw_expr in enumerate(
            issues.sequence(mapping[expressions_key], exprs_path) or []
        ):
            expr = _parse_expression(raw_expr, index_path(exprs_path, i), issues)
            if expr is not None:
                expressions.append(expr)
    if len(issues) != before:
        return None
    return NodeSelector(match_labels=tuple(labels), match_expressions=tuple(expressions))


def _parse_expression(raw: object, path: str, issues: Issues) -> SelectorRequirement | None:
    mapping = issues.struct(raw, path)
    if mapping is None:
        return None
    issues.unknown_keys(mapping, ("key", "operator", "values"), path)
    before = len(issues)
    key = None
    if "key" not in mapping:
        issues.add(f"{path}.key", "required key is missing")
    else:
        key = parse_label_key(mapping["key"], f"{path}.key", issues)
    operator = mapping.get("operator")
    if "operator" not in mapping:
        issues.add(f"{path}.operator", f"required key is missing; one of {', '.join(OPERATORS)}")
    elif operator not in OPERATORS:
        issues.add(f"{path}.operator", f"must be one of {', '.join(OPERATORS)}", operator)
        operator = None
    values: list[str] = []
    if "values" in mapping:
        values_path = f"{path}.values"
        for i, raw_value in enumerate(issues.sequence(mapping["values"], values_path) or []):
            v = _parse_label_value(raw_value, index_path(values_path, i), issues)
            if v is not None:
                values.append(v)
    if operator in ("In", "NotIn") and not values and len(issues) == before:
        issues.add(f"{path}.values", f"operator {operator} needs a non-empty list of values")
    if operator in ("Exists", "DoesNotExist") and mapping.get("values"):
        issues.add(f"{path}.values", f"operator {operator} takes no values; remove them")
    if len(issues) != before or key is None or operator is None:
        return None
    return SelectorRequirement(key=key, operator=str(operator), values=tuple(values))
