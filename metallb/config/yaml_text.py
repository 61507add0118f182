"""Loading YAML text strictly: duplicate keys are errors, and every failure becomes a
ConfigSyntaxError whose message names the line, never a PyYAML traceback."""

from __future__ import annotations

from typing import Any

import yaml

from metallb.config.errors import ConfigIssue, ConfigSyntaxError

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]
    """A safe loader that refuses duplicate mapping keys: PyYAML would silently keep the
    last one, hiding half of a user's edit."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        seen: set = set()
        for key_node, _value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # unhashable key: the base constructor reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def load_yaml_documents(text: str, source: str | None, where: str = "") -> list[object]:
    """All documents of a YAML stream. `where` is the issue path (e.g. "data.config" for
    the YAML embedded in a ConfigMap)."""
    try:
        return list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.YAMLError as exc:
        raise ConfigSyntaxError([ConfigIssue(where, describe_yaml_error(exc))], source) from None
    except (RecursionError, ValueError, OverflowError) as exc:
        # Pathological nesting or a scalar PyYAML cannot convert (e.g. a huge timestamp).
        raise ConfigSyntaxError([ConfigIssue(where, f"invalid YAML: {exc}")], source) from None


def describe_yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"{context}: {problem}" if context else problem
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {text}"
    return f"invalid YAML: {text}"
