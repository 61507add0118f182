"""Fixtures shared by the system tests."""

from __future__ import annotations

import pytest

from tests.support.image import build_image


@pytest.fixture(scope="session")
def image() -> str:
    """The image, built once per test run from this checkout (scripts/build-image.sh)."""
    return build_image()
