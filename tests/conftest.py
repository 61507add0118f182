"""Suite-wide settings.

With METALLB_TEST_STRICT=1 (set by .ci/run) a skipped test is reported as a failure, so a
green CI always ran the tests that need root, network namespaces, FRR or ExaBGP.

The harness (lab/harness) does not import pytest: a missing prerequisite raises
`lab.harness.requires.Missing`, reported here as a skip with its reason.
"""

from __future__ import annotations

import os

import pytest

from lab.harness.requires import Missing

STRICT = os.environ.get("METALLB_TEST_STRICT") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(Missing):
        path, line, _ = item.location
        report.outcome = "skipped"
        report.longrepr = (path, (line or 0) + 1, f"Skipped: {call.excinfo.value}")
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under METALLB_TEST_STRICT=1 (CI must run it): {reason}"
