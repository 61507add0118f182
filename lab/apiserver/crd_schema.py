"""Custom objects checked against their CRD's openAPIV3Schema, like the real server:
unknown fields are pruned (unless x-kubernetes-preserve-unknown-fields), then the object
is validated (422 Invalid naming each field). metadata, apiVersion and kind are the
server's business and are left to it."""

from __future__ import annotations

from typing import Any

PRESERVE = "x-kubernetes-preserve-unknown-fields"


def version_schema(crd: dict[str, Any], version: str) -> dict[str, Any] | None:
    spec = crd.get("spec") or {}
    for entry in spec.get("versions") or []:
        if entry.get("name") == version:
            schema = (entry.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema")
            return schema if isinstance(schema, dict) else None
    return None


def prune(value: Any, schema: dict[str, Any], root: bool = False) -> Any:
    """Drop fields the schema does not declare (in place, returns `value`)."""
    if isinstance(value, dict):
        props = schema.get("properties")
        additional = schema.get("additionalProperties")
        if props is not None and not schema.get(PRESERVE) and not isinstance(additional, dict):
            for key in list(value):
                if key not in props and not (root and key in ("apiVersion", "kind",
                                                              "metadata")):
                    del value[key]
        for key, sub in value.items():
            if root and key == "metadata":
                continue
            if props and key in props:
                prune(sub, props[key])
            elif isinstance(additional, dict):
                prune(sub, additional)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            prune(item, schema["items"])
    return value


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nullable_ok(error: Any) -> bool:
    return (error.validator == "type" and error.instance is None
            and bool(error.schema.get("nullable")))


def validate(obj: dict[str, Any], schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Validation causes (field, reason type, message); empty when valid or when the
    `jsonschema` package is not installed (then only pruning applies)."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - installed with the test extras
        return []
    checked = dict(schema)
    # metadata is validated by the server itself, whatever the CRD says about it
    checked["properties"] = dict(schema.get("properties") or {}, metadata={"type": "object"})
    validator = jsonschema.Draft4Validator(checked)
    causes = []
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        if _nullable_ok(error):
            continue
        field = _path(error.absolute_path) or "<root>"
        reason = "FieldValueRequired" if error.validator == "required" else (
            "FieldValueTypeInvalid" if error.validator == "type" else "FieldValueInvalid")
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            field = f"{field}.{missing}" if field != "<root>" else missing
            message = "Required value"
        elif error.validator == "type":
            message = (f'Invalid value: "{type(error.instance).__name__}": {field} in body '
                       f'must be of type {error.validator_value}: "{error.instance!r}"')
        else:
            message = f"Invalid value: {error.instance!r}: {error.message}"
        causes.append((field, reason, message))
    return causes
