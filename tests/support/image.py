"""The image built here (scripts/build-image.sh) and podman as this machine needs it:
shared by the image tests and the `lab up --containers` tests (tests/system/conftest.py
builds the image once per run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab import podman as lab_podman
from lab.harness.requires import require_program, require_root
from metallb.component.settings import DEFAULT_IMAGE

REPO = Path(__file__).resolve().parents[2]


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """One podman command with the lab's runtime and containers.conf; asserts success."""
    result = subprocess.run(lab_podman.command(*args), capture_output=True, text=True,
                            env=lab_podman.environment(), timeout=timeout, check=False)
    if check:
        assert result.returncode == 0, f"podman {args}:\n{result.stdout}\n{result.stderr}"
    return result


def build_image() -> str:
    """Build the image from this checkout; returns the tag the manifests use."""
    require_root()
    for program, package in (("podman", "podman"), ("mmdebstrap", "mmdebstrap")):
        require_program(program, package)
    result = subprocess.run(["bash", str(REPO / "scripts" / "build-image.sh")],
                            capture_output=True, text=True, timeout=1100, check=False)
    assert result.returncode == 0, f"build-image.sh:\n{result.stdout}\n{result.stderr}"
    assert f"image={DEFAULT_IMAGE} " in result.stdout
    return DEFAULT_IMAGE

