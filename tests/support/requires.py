"""Skip helpers for tests that need privileges or system programs.

Each skip says exactly what is missing and how to get it; under METALLB_TEST_STRICT=1 the
suite's conftest turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces): run the suite as root")


def require_program(path_or_name: str, package: str) -> None:
    if os.path.sep in path_or_name:
        found = os.access(path_or_name, os.X_OK)
    else:
        found = shutil.which(path_or_name) is not None
    if not found:
        pytest.skip(f"needs {path_or_name}: apt-get install {package} (scripts/setup.sh does)")


def require_frr() -> None:
    require_root()
    for daemon in ("/usr/lib/frr/zebra", "/usr/lib/frr/bgpd"):
        require_program(daemon, "frr")
    require_program("vtysh", "frr")
