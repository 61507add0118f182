"""Install the fixes into this interpreter's ExaBGP, if it is the one they were verified
against (see guard.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .guard import FingerprintCache, Fix, apply


def _fixes() -> Sequence[Fix]:
    from .fixes import FIXES

    return FIXES


def _version() -> str:
    from exabgp.version import version

    return version


def apply_fixes() -> bool:
    """Install every fix (True), or none with one warning line on stderr (False)."""
    return apply(_fixes, _version, sys.stderr, FingerprintCache.default())
