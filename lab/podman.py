"""podman as this machine needs it, for `lab up --containers`: the runc runtime when it
is installed (crun fails on hybrid cgroups) and the containers.conf build-image.sh
writes (no ulimit raising). Thin: each function is one podman command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.errors import LabError

RUNC = "/usr/sbin/runc"
LAB_LABEL = "metallb-lab"  # value: the lab's state directory; how `down` finds leftovers


def image_cache() -> Path:
    return Path(os.environ.get("METALLB_IMAGE_CACHE", "/var/tmp/metallb-image"))


def command(*args: str) -> list[str]:
    runtime = ["--runtime", RUNC] if os.access(RUNC, os.X_OK) else []
    return ["podman", *runtime, *args]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    conf = image_cache() / "containers.conf"
    if "CONTAINERS_CONF" not in env and conf.exists():
        env["CONTAINERS_CONF"] = str(conf)
    return env


def podman(*args: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(command(*args), capture_output=True, text=True,
                            env=environment(), timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise LabError(f"podman {' '.join(args[:3])} ... failed (rc={result.returncode}): "
                       f"{result.stderr.strip()}")
    return result.stdout


def require_image(image: str) -> None:
    """Refuse early, saying how to get it, when podman or the image is missing."""
    if shutil.which("podman") is None:
        raise LabError("--containers needs podman: apt-get install -y podman runc "
                       "(or run scripts/setup.sh)")
    if subprocess.run(command("image", "exists", image), env=environment(),
                      check=False).returncode != 0:
        raise LabError(f"--containers: the image {image} is not built here; build it with "
                       "`bash scripts/build-image.sh`")


def run_command(args: Sequence[str]) -> list[str]:
    """`podman run` in the foreground: the podman process is the pod's lab process (its
    PID recorded, its output the log); --rm leaves nothing behind once it stops."""
    return command("run", "--rm", *args)


def inspect(name: str) -> dict[str, Any]:
    return json.loads(podman("inspect", name))[0]


def stop(names: Sequence[str], wait: float = 120) -> None:
    """SIGTERM, then SIGKILL after each container's own stop timeout (its pod's
    terminationGracePeriodSeconds, given at `run`); `wait` bounds the whole command."""
    if names:
        podman("stop", "--ignore", *names, check=False, timeout=wait)


def remove(names: Sequence[str]) -> None:
    if names:
        podman("rm", "-f", "--ignore", "-t", "0", *names, check=False)


def labelled(state_dir: str) -> list[str]:
    """Names of the containers (running or not) of the lab in `state_dir`."""
    if shutil.which("podman") is None:
        return []
    out = podman("ps", "-a", "--filter", f"label={LAB_LABEL}={state_dir}",
                 "--format", "{{.Names}}", check=False)
    return out.split()
