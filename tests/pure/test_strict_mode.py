"""METALLB_TEST_STRICT=1 (tests/conftest.py) turns every way a test can avoid running or
passing into a failure: skips in a test or while collecting a module, xfail and xpass.

A small suite runs in a pytest subprocess with the suite's conftest as a plugin, once
without and once with the switch; outcomes are read from its JUnit XML report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SUITE = {
    "test_runs.py": """
        import pytest

        def test_passes():
            pass

        def test_skips():
            pytest.skip("needs a thing")

        @pytest.mark.skipif(True, reason="never here")
        def test_skip_mark():
            pass

        @pytest.mark.xfail(reason="known bug")
        def test_xfail():
            assert False

        @pytest.mark.xfail(reason="fixed by now")
        def test_xpass():
            pass

        def test_imperative_xfail():
            pytest.xfail("gave up")
    """,
    "test_module_skip.py": """
        import pytest

        pytest.skip("no FRR on this machine", allow_module_level=True)

        def test_never_collected():
            pass
    """,
    "test_importorskip.py": """
        import pytest

        pytest.importorskip("metallb_no_such_module")

        def test_never_collected():
            pass
    """,
}


def _run(tmp_path: Path, strict: bool) -> tuple[int, dict[str, str], str]:
    """(exit code, {test or module: outcome}, output) of the suite."""
    suite = tmp_path / ("strict" if strict else "lenient")
    suite.mkdir()
    for name, body in SUITE.items():
        (suite / name).write_text(textwrap.dedent(body))
    (suite / "pytest.ini").write_text("[pytest]\n")
    report = suite / "report.xml"
    env = {k: v for k, v in os.environ.items() if k != "METALLB_TEST_STRICT"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if strict:
        env["METALLB_TEST_STRICT"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-c", str(suite / "pytest.ini"), "--rootdir", str(suite),
         f"--junitxml={report}", str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    output = proc.stdout + proc.stderr
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("skipped", "failure", "error")]
        name = case.get("name") or ""
        outcomes[name] = kinds[0] if kinds else "passed"
    return proc.returncode, outcomes, output


def _outcome(outcomes: dict[str, str], fragment: str) -> str:
    matching = [outcome for name, outcome in outcomes.items() if fragment in name]
    assert len(matching) == 1, (fragment, outcomes)
    return matching[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("strict")
    return {strict: _run(tmp, strict) for strict in (False, True)}


NOT_RUN = ["test_skips", "test_skip_mark", "test_xfail", "test_imperative_xfail",
           "test_module_skip", "test_importorskip"]


def test_without_the_switch_skips_and_xfails_are_not_failures(runs):
    code, outcomes, output = runs[False]
    assert code == 0, output
    assert _outcome(outcomes, "test_passes") == "passed"
    assert _outcome(outcomes, "test_xpass") == "passed"  # a non-strict xpass passes
    for fragment in NOT_RUN:
        assert _outcome(outcomes, fragment) == "skipped", (fragment, output)


def test_with_the_switch_every_skip_xfail_and_xpass_fails(runs):
    code, outcomes, output = runs[True]
    assert code == 1, output
    assert _outcome(outcomes, "test_passes") == "passed"  # the others still ran
    for fragment in ["test_skips", "test_skip_mark", "test_xfail", "test_xpass",
                     "test_imperative_xfail"]:
        # a failure in the call, an error when the skip came in setup (skipif mark)
        assert _outcome(outcomes, fragment) in ("failure", "error"), (fragment, output)
    for fragment in ["test_module_skip", "test_importorskip"]:  # collection reports
        assert _outcome(outcomes, fragment) == "error", (fragment, output)
    for reason in ["needs a thing", "known bug", "fixed by now", "gave up",
                   "no FRR on this machine", "metallb_no_such_module"]:
        assert reason in output, reason
    assert "METALLB_TEST_STRICT=1" in output
