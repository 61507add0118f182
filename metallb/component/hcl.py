"""Read a Lokomotive-style configuration: HCL files (`*.lokocfg`), `variable` blocks and a
vars file, and return the `component "NAME"` block as plain Python values.

python-hcl2 hands back strings in source form (quotes kept, `${...}` for expressions), so
this module finishes the job: it evaluates string templates and `var.NAME` references,
which is all a component block needs. Anything more (functions, loops, conditionals) is
refused with a message naming the attribute, instead of being passed on as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from lark.exceptions import LarkError

from metallb.config.errors import ConfigError, ConfigIssue

DEFAULT_VARS_FILE = "lokocfg.vars"
CONFIG_SUFFIX = ".lokocfg"

_OPTIONS = hcl2.SerializationOptions(
    with_comments=False, explicit_blocks=True, preserve_heredocs=False
)
_MARKERS = ("__is_block__", "__comments__", "__inline_comments__", "__start_line__",
            "__end_line__")
_VAR_REF = re.compile(r"^var\.([A-Za-z_][A-Za-z0-9_-]*)$")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class ComponentBlock:
    """The evaluated body of one `component "NAME"` block and where it came from."""

    name: str
    body: Mapping[str, Any]
    source: str  # file the block was read from, for error messages


@dataclass(frozen=True)
class _Variable:
    name: str
    has_default: bool
    default: Any
    source: str


class _Unset:
    """Marks a declared variable that has neither a default nor a value in the vars file."""


def load_component(
    config_path: str | Path, name: str = "metallb", vars_path: str | Path | None = None
) -> ComponentBlock:
    """Load `component "<name>"` from a file or a directory of *.lokocfg files.

    `vars_path` defaults to `lokocfg.vars` beside the configuration (used if it exists).
    Raises ConfigError (with the file as source) for every problem found.
    """
    files = _config_files(Path(config_path))
    explicit_vars = vars_path is not None
    vars_file = Path(vars_path) if explicit_vars else _default_vars_file(Path(config_path))

    documents = [(str(f), _parse_file(f)) for f in files]
    declared = _declared_variables(documents)
    values = _vars_file_values(vars_file, explicit_vars)
    variables = _resolve_variables(declared, values)

    blocks = [
        (source, body)
        for source, document in documents
        for block_name, body in _labelled_blocks(document, "component")
        if block_name == name
    ]
    if not blocks:
        where = ", ".join(str(f) for f in files)
        raise ConfigError(
            [ConfigIssue("", f'no component "{name}" block found; add one, e.g. '
                             f'component "{name}" {{ address_pools = {{ ... }} }}')],
            source=where,
        )
    if len(blocks) > 1:
        others = ", ".join(source for source, _ in blocks)
        raise ConfigError(
            [ConfigIssue(f'component "{name}"', f"defined {len(blocks)} times ({others}); "
                                                "keep exactly one block")],
            source=blocks[0][0],
        )
    source, body = blocks[0]
    issues: list[ConfigIssue] = []
    evaluated = {
        key: _evaluate(value, variables, key, issues)
        for key, value in body.items()
        if key not in _MARKERS
    }
    if issues:
        raise ConfigError(issues, source=source)
    return ComponentBlock(name=name, body=evaluated, source=source)


def _config_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == CONFIG_SUFFIX and p.is_file())
        if not files:
            raise ConfigError(
                [ConfigIssue("", f"no *{CONFIG_SUFFIX} files in this directory")],
                source=str(path),
            )
        return files
    if not path.exists():
        raise ConfigError(
            [ConfigIssue("", "no such file or directory; pass --config FILE or DIRECTORY")],
            source=str(path),
        )
    return [path]


def _default_vars_file(config_path: Path) -> Path:
    directory = config_path if config_path.is_dir() else config_path.parent
    return directory / DEFAULT_VARS_FILE


def _parse_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue("", f"cannot read: {exc}")], source=str(path)) from None
    return parse_hcl_text(text, str(path))


def parse_hcl_text(text: str, source: str) -> dict[str, Any]:
    """Parse HCL text with python-hcl2; a syntax error becomes a ConfigError with a line."""
    try:
        return hcl2.loads(text, serialization_options=_OPTIONS)
    except LarkError as exc:
        line = getattr(exc, "line", None)
        column = getattr(exc, "column", None)
        where = f" at line {line}, column {column}" if line is not None else ""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            [ConfigIssue("", f"HCL syntax error{where}: {first}")], source=source
        ) from None
    except Exception as exc:  # python-hcl2 raises assorted errors on odd input
        raise ConfigError(
            [ConfigIssue("", f"HCL cannot be read: {exc}")], source=source
        ) from None


def _labelled_blocks(document: Mapping[str, Any], kind: str) -> list[tuple[str, dict]]:
    """`kind "label" { ... }` blocks of a document as (label, body) pairs."""
    found = []
    for entry in document.get(kind, []) or []:
        if not isinstance(entry, dict):
            continue
        for label, body in entry.items():
            if label in _MARKERS:
                continue
            found.append((_unquote_key(label), body if isinstance(body, dict) else {}))
    return found


def _declared_variables(documents: list[tuple[str, dict]]) -> dict[str, _Variable]:
    declared: dict[str, _Variable] = {}
    for source, document in documents:
        for name, body in _labelled_blocks(document, "variable"):
            if name in declared:
                raise ConfigError(
                    [ConfigIssue(f'variable "{name}"',
                                 f"declared twice (also in {declared[name].source})")],
                    source=source,
                )
            issues: list[ConfigIssue] = []
            default = (
                _evaluate(body["default"], {}, f'variable "{name}".default', issues)
                if "default" in body
                else None
            )
            if issues:
                raise ConfigError(issues, source=source)
            declared[name] = _Variable(name, "default" in body, default, source)
    return declared


def _vars_file_values(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(
                [ConfigIssue("", "vars file not found; check --vars")], source=str(path)
            )
        return {}
    document = _parse_file(path)
    issues: list[ConfigIssue] = []
    values = {
        key: _evaluate(value, {}, key, issues)
        for key, value in document.items()
        if key not in _MARKERS
    }
    if issues:
        raise ConfigError(issues, source=str(path))
    return values


def _resolve_variables(declared: dict[str, _Variable], values: dict[str, Any]) -> dict[str, Any]:
    """Variable name -> value: the vars file wins over the default; unset stays _Unset."""
    resolved: dict[str, Any] = {}
    for name, variable in declared.items():
        if name in values:
            resolved[name] = values[name]
        elif variable.has_default:
            resolved[name] = variable.default
        else:
            resolved[name] = _Unset
    return resolved


def _unquote_key(key: str) -> str:
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        return _unescape(key[1:-1])
    return key


def _evaluate(value: Any, variables: Mapping[str, Any], where: str,
              issues: list[ConfigIssue]) -> Any:
    """Turn python-hcl2's source-form value into a plain value, resolving `var.NAME`."""
    if isinstance(value, list):
        return [_evaluate(v, variables, f"{where}[{i}]", issues) for i, v in enumerate(value)]
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key in _MARKERS:
                continue
            name = _unquote_key(key)
            result[name] = _evaluate(item, variables, f"{where}.{name}", issues)
        return result
    if not isinstance(value, str):
        return value  # bool, int, float, None
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return _template(value[1:-1], variables, where, issues)
    if value.startswith("${") and value.endswith("}"):
        return _expression(value[2:-1].strip(), variables, where, issues)
    issues.append(ConfigIssue(where, "cannot be read as a value", value))
    return None


def _expression(expr: str, variables: Mapping[str, Any], where: str,
                issues: list[ConfigIssue]) -> Any:
    match = _VAR_REF.match(expr)
    if not match:
        issues.append(ConfigIssue(
            where, "unsupported expression: only literals and var.NAME references are "
                   "allowed here", expr))
        return None
    name = match.group(1)
    if name not in variables:
        issues.append(ConfigIssue(
            where, f'refers to undeclared variable "{name}"; add variable "{name}" {{}}', expr))
        return None
    if variables[name] is _Unset:
        issues.append(ConfigIssue(
            where, f'variable "{name}" has no value; set it in {DEFAULT_VARS_FILE} '
                   "(or --vars) or give it a default", expr))
        return None
    return variables[name]


def _template(body: str, variables: Mapping[str, Any], where: str,
              issues: list[ConfigIssue]) -> Any:
    """An HCL string template: escapes, `$${` / `%%{` literals, `${var.NAME}` parts.

    A template that is exactly one interpolation yields the value itself (any type), as
    in HCL; otherwise the parts are joined as strings.
    """
    parts: list[Any] = []
    literal: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith("$${", i) or body.startswith("%%{", i):
            literal.append(body[i + 1 : i + 3])
            i += 3
        elif body.startswith("${", i):
            end = body.find("}", i)
            if end < 0:
                issues.append(ConfigIssue(where, "unterminated ${ in string", body))
                return None
            if literal:
                parts.append(_unescape("".join(literal)))
                literal = []
            parts.append(_expression(body[i + 2 : end].strip(), variables, where, issues))
            i = end + 1
        elif body.startswith("%{", i):
            issues.append(ConfigIssue(where, "template directives (%{ ... }) are not "
                                             "supported", body))
            return None
        else:
            literal.append(body[i])
            i += 1
    if literal:
        parts.append(_unescape("".join(literal)))
    if len(parts) == 1 and not isinstance(parts[0], str):
        return parts[0]
    return "".join(_to_template_string(p) for p in parts)


def _to_template_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            width = {"u": 4, "U": 8}.get(nxt)
            digits = text[i + 2 : i + 2 + width] if width else ""
            if width and len(digits) == width and all(c in "0123456789abcdefABCDEF"
                                                       for c in digits):
                out.append(chr(int(digits, 16)))
                i += 2 + width
                continue
        out.append(ch)
        i += 1
    return "".join(out)
