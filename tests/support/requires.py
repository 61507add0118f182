"""Skip helpers for tests that need privileges or system programs.

The checks live in `lab.harness.requires` (the harness makes them too); here a missing
prerequisite becomes a skip that says exactly what is missing and how to get it. Under
METALLB_TEST_STRICT=1 the suite's conftest turns the skip into a failure.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lab.harness import requires


def _skipping(check: Callable[..., None]) -> Callable[..., None]:
    def require(*args: str) -> None:
        try:
            check(*args)
        except requires.Missing as exc:
            pytest.skip(str(exc))

    require.__name__ = check.__name__
    require.__doc__ = check.__doc__
    return require


require_root = _skipping(requires.require_root)
require_program = _skipping(requires.require_program)
require_frr = _skipping(requires.require_frr)
require_bgp_lab = _skipping(requires.require_bgp_lab)
