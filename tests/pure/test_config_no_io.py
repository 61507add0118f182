"""The config package is pure: it takes text and returns a model. Reading files, stdin
or the API belongs to its callers (metallb/commands/input_files.py, the daemons)."""

from __future__ import annotations

import ast
from pathlib import Path

import metallb.config

PACKAGE = Path(metallb.config.__file__).parent
IO_MODULES = {"os", "sys", "io", "pathlib", "shutil", "socket", "subprocess", "tempfile"}
IO_CALLS = {"open", "input", "print"}


def _io_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            names = [node.func.id] if node.func.id in IO_CALLS else []
        else:
            continue
        found += [f"{path.name}:{node.lineno}: {n}" for n in names if n in IO_MODULES | IO_CALLS]
    return found


def test_config_package_does_no_io():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) > 5
    assert [use for module in modules for use in _io_uses(module)] == []


def test_package_docstring_says_what_it_owns():
    assert "no I/O" in (metallb.config.__doc__ or "")
