"""Prerequisites of the harness (root, FRR, system programs), checked before anything
is built. A missing one raises `Missing` with what is missing and how to get it; the
test suite's conftest reports that as a skip (a failure under METALLB_TEST_STRICT=1)."""

from __future__ import annotations

import os
import shutil


class Missing(RuntimeError):
    """A prerequisite of the harness is not installed or not permitted here."""


def require_root() -> None:
    if os.geteuid() != 0:
        raise Missing("needs root (network namespaces): run the suite as root")


def require_program(path_or_name: str, package: str) -> None:
    if os.path.sep in path_or_name:
        found = os.access(path_or_name, os.X_OK)
    else:
        found = shutil.which(path_or_name) is not None
    if not found:
        raise Missing(f"needs {path_or_name}: apt-get install {package} "
                      "(scripts/setup.sh does)")


def require_frr() -> None:
    require_root()
    for daemon in ("/usr/lib/frr/zebra", "/usr/lib/frr/bgpd"):
        require_program(daemon, "frr")
    require_program("vtysh", "frr")


def require_bgp_lab() -> None:
    """Root, FRR and ip: what `bgp_lab` needs."""
    require_frr()
    require_program("ip", "iproute2")
