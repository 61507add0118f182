"""The image's install, without Docker: copy what the Dockerfile copies, run the same
build-wheels.sh and install.sh, then run the commands from that install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.component import REPO

pytestmark = pytest.mark.timeout(900)


def _copied_paths() -> list[str]:
    """Sources of the build stage's COPY lines (from the Dockerfile itself)."""
    paths = []
    for line in (REPO / "Dockerfile").read_text().splitlines():
        match = re.match(r"COPY\s+(?!--)(.+)\s+\S+$", line.strip())
        if match:
            paths.extend(match.group(1).split())
    return paths


def _run(args, env, cwd, timeout=600) -> subprocess.CompletedProcess:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("image")
    src = root / "src"
    src.mkdir()
    for name in _copied_paths():
        origin = REPO / name
        target = src / name if "/" not in name else root / "scripts" / origin.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, target)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHON"] = sys.executable
    _run(["sh", str(root / "scripts" / "build-wheels.sh"), str(src), str(root / "wheels")],
         env, root)
    _run(["sh", str(REPO / "deploy" / "image" / "install.sh"), str(root / "wheels"),
          str(root / "venv")], env, root)
    return root / "venv"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_dockerfile_pins_its_base_and_runs_as_the_manifests_user():
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm", text)
    assert "USER 10001:10001" in text
    assert "deploy/image/build-wheels.sh" in text and "deploy/image/install.sh" in text
    from metallb.component.workloads import IMAGE_USER_ID
    assert IMAGE_USER_ID == 10001


def test_metallb_cli_runs_from_the_install(image_venv, tmp_path):
    result = _run([str(image_venv / "bin" / "metallb"), "--help"], _env(), tmp_path)
    assert "component" in result.stdout
    # package data (the Grafana dashboard) made it into the wheel
    config = tmp_path / "m.lokocfg"
    config.write_text('component "metallb" {\n  address_pools = { p = ["198.51.100.0/30"] }\n'
                      "  service_monitor = true\n}\n")
    rendered = _run([str(image_venv / "bin" / "metallb"), "component", "render", "--config",
                     str(config)], _env(), tmp_path).stdout
    assert "metallb-grafana-dashboard" in rendered and '"panels"' in rendered


def test_every_daemon_module_imports_from_the_install(image_venv, tmp_path):
    """Also proves that pruning the kubernetes client's asyncio twin (install.sh) is safe."""
    modules = ["controller.daemon", "speaker.daemon", "metallb.cli", "kubernetes.client",
               "kubernetes.watch", "metallb.commands.component", "metallb.commands.plan"]
    _run([str(image_venv / "bin" / "python"), "-c",
          "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]",
          *modules], _env(), tmp_path)


def test_the_lab_is_not_installed_and_says_so(image_venv, tmp_path):
    result = subprocess.run([str(image_venv / "bin" / "metallb"), "lab", "up"],
                            capture_output=True, text=True, env=_env(), cwd=tmp_path,
                            check=False)
    assert result.returncode == 2
    assert "not part of this installation" in result.stderr


def test_exabgp_is_installed_and_no_build_tools_are(image_venv, tmp_path):
    _run([str(image_venv / "bin" / "python"), "-c", "import exabgp, kubernetes, hcl2"],
         _env(), tmp_path)
    assert (image_venv / "bin" / "exabgp").exists()
    # ExaBGP declares setuptools as a runtime requirement; only then may it be present.
    requires = _run([str(image_venv / "bin" / "python"), "-c",
                     "import importlib.metadata as m; print(m.requires('exabgp'))"],
                    _env(), tmp_path).stdout
    tools = ["pip", "wheel"] + ([] if "setuptools" in requires else ["setuptools"])
    for tool in tools:
        probe = subprocess.run([str(image_venv / "bin" / "python"), "-c", f"import {tool}"],
                               capture_output=True, text=True, env=_env(), cwd=tmp_path,
                               check=False)
        assert probe.returncode != 0, f"{tool} is installed in the runtime venv"


@pytest.mark.parametrize("script", ["metallb-controller", "metallb-speaker"])
def test_daemon_help_runs_from_the_install(image_venv, tmp_path, script):
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert script in scripts, f"console script {script} is not declared in pyproject.toml"
    result = _run([str(image_venv / "bin" / script), "--help"], _env(), tmp_path)
    assert "--namespace" in result.stdout and "--config" in result.stdout
    assert "--port" in result.stdout and "--log-level" in result.stdout
