"""The image itself, built here with scripts/build-image.sh (mmdebstrap base, offline wheels,
the unchanged Dockerfile under podman) and run the way the pod specs say: user 10001,
read-only root filesystem, every capability dropped. What is checked is read back from the
running container (podman inspect, /proc), not from the manifests."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.image import podman

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(1200)]


RESTRICTED = ["--read-only", "--user", "10001:10001", "--cap-drop", "ALL",
              "--security-opt", "no-new-privileges"]


def test_image_is_tagged_as_the_manifests_expect_and_runs_as_10001(image):
    info = json.loads(podman("image", "inspect", image).stdout)[0]
    assert info["Config"]["User"] == "10001:10001"
    assert "/opt/metallb/bin" in " ".join(info["Config"]["Env"])


@pytest.mark.parametrize("command", [
    ["metallb", "--help"],
    ["metallb-controller", "--help"],
    ["metallb-speaker", "--help"],
    ["exabgp", "--version"],
])
def test_every_entry_point_runs_on_a_read_only_root_without_capabilities(image, command):
    result = podman("run", "--rm", "--network", "none", *RESTRICTED, image, *command)
    assert result.stdout.strip()


def test_running_container_is_what_the_pod_spec_asks_for(image):
    name = f"mlb-image-test-{os.getpid()}"
    podman("run", "-d", "--name", name, "--network", "none", *RESTRICTED, image,
           "python3", "-c", "import time; time.sleep(600)")
    try:
        info = json.loads(podman("inspect", name).stdout)[0]
        assert info["Config"]["User"] == "10001:10001"
        assert info["HostConfig"]["ReadonlyRootfs"] is True
        assert not info["EffectiveCaps"]
        status = podman("exec", name, "cat", "/proc/1/status").stdout
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert fields["Uid"].split()[:2] == ["10001", "10001"]
        assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0
        write = podman("exec", name, "touch", "/opt/metallb/x", check=False)
        assert write.returncode != 0 and "Read-only file system" in write.stderr
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def test_image_has_no_compilers_no_pip_and_no_lab(image):
    probe = ("import importlib.util as u, shutil; "
             "print([m for m in ('pip', 'lab', 'tests') if u.find_spec(m)], "
             "[c for c in ('gcc', 'cc', 'pip', 'pip3') if shutil.which(c)])")
    result = podman("run", "--rm", "--network", "none", *RESTRICTED, image,
                    "/opt/metallb/bin/python", "-c", probe)
    assert result.stdout.strip() == "[] []"
    lab = podman("run", "--rm", "--network", "none", *RESTRICTED, image, "metallb", "lab", "up",
                 check=False)
    assert lab.returncode == 2 and "not part of this installation" in lab.stderr
