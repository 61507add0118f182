"""Suite-wide settings.

With METALLB_TEST_STRICT=1 (set by .ci/run) every test that did not really run and pass
is a failure, so a green CI always ran the tests that need root, network namespaces, FRR
or ExaBGP:
- a skip, in a test (`pytest.skip`, skip / skipif marks) or while collecting a module
  (`pytest.skip(allow_module_level=True)`, `pytest.importorskip`); a skipped module is a
  collection error, and the other modules still run (continue-on-collection-errors);
- an xfail (expected failure) or an xpass (an xfail-marked test that passed).
`tests/pure/test_strict_mode.py` runs small suites with and without the switch.

The harness (lab/harness) does not import pytest: a missing prerequisite raises
`lab.harness.requires.Missing`, reported here as a skip with its reason (so, in strict
mode, as a failure).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from lab.harness.requires import Missing

STRICT = os.environ.get("METALLB_TEST_STRICT") == "1"
_PREFIX = "under METALLB_TEST_STRICT=1 (CI must run it and see it pass)"


def _reason(longrepr: object) -> object:
    """A skip's reason: its longrepr is (path, line, reason)."""
    return longrepr[2] if isinstance(longrepr, tuple) else longrepr


_FINGERPRINTS = "METALLB_EXABGP_FINGERPRINTS"  # speaker.exabgp.launcher.guard.CACHE_ENV


def pytest_configure(config):
    # The ExaBGP launcher caches fingerprints in ~/.cache by default: the suite (and
    # every ExaBGP it starts) uses a directory of its own, removed at the end.
    if _FINGERPRINTS not in os.environ:
        config._metallb_cache_dir = tempfile.mkdtemp(prefix="metallb-test-cache-")
        os.environ[_FINGERPRINTS] = os.path.join(config._metallb_cache_dir,
                                                 "exabgp-fingerprints.json")
    if STRICT:
        # A module skipped at collection fails the run but does not stop the others.
        config.option.continue_on_collection_errors = True


def pytest_unconfigure(config):
    where = getattr(config, "_metallb_cache_dir", None)
    if where is not None:
        os.environ.pop(_FINGERPRINTS, None)
        shutil.rmtree(where, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"module skipped {_PREFIX}: {_reason(report.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(Missing):
        path, line, _ = item.location
        report.outcome = "skipped"
        report.longrepr = (path, (line or 0) + 1, f"Skipped: {call.excinfo.value}")
    if not STRICT:
        return
    if hasattr(report, "wasxfail"):
        kind = "xfail" if report.skipped else "xpass"
        reason = report.wasxfail
        del report.wasxfail  # else pytest would still count it as expected
        report.outcome = "failed"
        report.longrepr = f"{kind} {_PREFIX}: {reason}"
    elif report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped {_PREFIX}: {_reason(report.longrepr)}"
