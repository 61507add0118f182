"""Imports point one way: the product never imports the lab or the tests, and the lab
and the benches never import the tests. Checked by reading the source with `ast` (not
by importing it), so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAB_COMMAND = Path("metallb/commands/lab.py")  # the lab's own CLI command
RULES = {  # top-level directory -> top-level packages its code may not import
    "controller": {"lab", "tests"},
    "speaker": {"lab", "tests"},
    "metallb": {"lab", "tests"},
    "lab": {"tests"},
    "bench": {"tests"},
}


def imported_packages(source: str) -> set[str]:
    """Top-level names of every absolute import in `source`, wherever it appears."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def forbidden_imports(repo: Path) -> list[str]:
    """`path: imports X` for every import that points the wrong way."""
    wrong = []
    for top, banned in RULES.items():
        for path in sorted((repo / top).rglob("*.py")):
            relative = path.relative_to(repo)
            rule = banned - {"lab"} if relative == LAB_COMMAND else banned
            for package in sorted(imported_packages(path.read_text()) & rule):
                wrong.append(f"{relative}: imports {package}")
    return wrong


def test_the_product_imports_neither_lab_nor_tests_and_lab_and_bench_not_tests():
    assert forbidden_imports(REPO) == []


def test_the_lab_command_is_the_products_only_door_to_the_lab():
    assert "lab" in imported_packages((REPO / LAB_COMMAND).read_text())


def test_every_kind_of_import_is_seen(tmp_path):
    (tmp_path / "speaker").mkdir()
    (tmp_path / "speaker" / "bad.py").write_text(
        "import os\nimport lab.apiserver\n\ndef later():\n    from tests.support import x\n")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "bad.py").write_text("from lab.harness import http\n"
                                               "from tests import conftest\n")
    (tmp_path / "metallb" / "commands").mkdir(parents=True)
    (tmp_path / "metallb" / "commands" / "lab.py").write_text("def run():\n    import lab\n")
    (tmp_path / "metallb" / "relative.py").write_text("from . import lab\n")
    assert forbidden_imports(tmp_path) == [
        "speaker/bad.py: imports lab",
        "speaker/bad.py: imports tests",
        "bench/bad.py: imports tests",
    ]
