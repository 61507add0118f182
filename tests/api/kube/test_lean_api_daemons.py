"""The daemons talk core/v1 through metallb.kube.lean_api, never loading the typed
CoreV1Api and its models (tests/pure/test_lean_api.py: the requests are the same)."""

from __future__ import annotations

import subprocess
import sys


def test_the_daemons_do_not_import_the_typed_core_client():
    """The point of it: 22 MiB of models stay out of the daemons' memory."""
    code = (
        "import os, sys\n"
        "from kubernetes import client\n"
        "from controller.cli import parse_settings as controller_settings\n"
        "from controller.daemon import ControllerDaemon\n"
        "from speaker.cli import parse_settings as speaker_settings\n"
        "from speaker.daemon import SpeakerDaemon\n"
        "api = client.ApiClient()\n"
        "ControllerDaemon(controller_settings(['--host', '127.0.0.1', '--port', '0']), api)\n"
        "SpeakerDaemon(speaker_settings(['--node-name', 'n', '--host', '127.0.0.1',"
        " '--port', '0']), api)\n"
        "print('kubernetes.client.api.core_v1_api' in sys.modules, flush=True)\n"
        "os._exit(0)  # nothing was started: no thread to stop\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip().splitlines()[-1:] == ["False"], out.stderr[-2000:]
