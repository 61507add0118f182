"""The rule book (docs/*.md) and the code cite each other by rule id, and stay in step.

Rules are lines `- **A4** text` in docs/; code and tests cite them as `rule A4` or
`rules A4, A7 and N2`. Every cited id must exist, and every rule must be cited by a test
(a `test_*.py` under tests/) unless the rule says it is *planned* or *untested: why*.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CODE_DIRS = ("metallb", "controller", "speaker", "lab", "tests", "bench", "scripts")
SECTIONS = "CANKD"  # config, allocation, announcement, CRDs, differences

RULE_LINE = re.compile(r"^- \*\*([A-Z]+)(\d+)\*\* ")
RULE_ID = r"[ACDKN]\d+"
CITATION = re.compile(rf"\b(?i:rules?)\s+({RULE_ID}(?:(?:\s*,\s*|\s+and\s+|\s+or\s+){RULE_ID})*)")
EXEMPT = re.compile(r"\*(planned|untested: [^*]+)\*")


def _rules() -> dict[str, str]:
    """Rule id -> its text (continuation lines joined), from every docs/*.md file."""
    rules: dict[str, str] = {}
    current = None
    for path in sorted(DOCS.glob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = RULE_LINE.match(line)
            if match:
                current = match.group(1) + match.group(2)
                assert current not in rules, f"{path.name}: rule {current} defined twice"
                rules[current] = line
            elif current and line.startswith("  ") and line.strip():
                rules[current] += " " + line.strip()
            else:
                current = None
    return rules


def _citations(paths) -> dict[str, set[str]]:
    """Rule id -> files (relative paths) citing it."""
    cited: dict[str, set[str]] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in CITATION.finditer(text):
            for rule in re.findall(RULE_ID, match.group(1)):
                cited.setdefault(rule, set()).add(str(path.relative_to(ROOT)))
    return cited


def _code_files() -> list[Path]:
    return [p for d in CODE_DIRS if (ROOT / d).is_dir() for p in sorted((ROOT / d).rglob("*.py"))]


def _test_files() -> list[Path]:
    return [p for p in sorted((ROOT / "tests").rglob("test_*.py")) if p.name != Path(__file__).name]


RULES = _rules()
TESTED = _citations(_test_files())


def test_the_rule_book_has_every_section_numbered_without_gaps():
    assert RULES, f"no rules found under {DOCS}"
    for section in SECTIONS:
        numbers = sorted(int(rule[1:]) for rule in RULES if rule[0] == section)
        assert numbers, f"section {section} has no rules"
        assert numbers == list(range(1, len(numbers) + 1)), (section, numbers)
    assert {rule[0] for rule in RULES} <= set(SECTIONS)


def test_every_cited_rule_exists():
    cited = _citations([*_code_files(), *sorted(DOCS.glob("*.md"))])
    assert cited, "no file cites a rule: the citation pattern is broken"
    unknown = {rule: sorted(files) for rule, files in cited.items() if rule not in RULES}
    assert unknown == {}


@pytest.mark.parametrize("rule", sorted(RULES, key=lambda r: (SECTIONS.index(r[0]), int(r[1:]))))
def test_every_rule_is_cited_by_a_test_or_says_why_not(rule):
    assert rule in TESTED or EXEMPT.search(RULES[rule]), (
        f"rule {rule} is cited by no test under tests/; cite it (`rule {rule}`) from the "
        f"test that checks it, or mark it *untested: why* (or *planned*) in docs/"
    )


def test_no_file_cites_the_upstream_reference_that_is_not_in_the_repository():
    citing = [str(p.relative_to(ROOT)) for p in _code_files()
              if "SEMANTICS.md" in p.read_text(encoding="utf-8", errors="replace")
              and p.resolve() != Path(__file__).resolve()]
    assert citing == []

