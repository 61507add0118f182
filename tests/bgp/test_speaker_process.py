"""The speaker as users run it: `python -m speaker` in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from lab.harness.speaker_cluster import speaker_cluster
from metallb.wait import poll_until


# rule D3
def test_sigterm_withdraws_before_the_process_exits(tmp_path):
    with speaker_cluster(1, start_speakers=False) as cluster:
        node = cluster.lab.nodes[0]
        kubeconfig = cluster.server.write_kubeconfig(tmp_path / "kubeconfig")
        log_path = tmp_path / "speaker.log"
        cluster.service("web", ["198.51.100.10"])
        cluster.endpoints("web", [node])
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "speaker", "--node-name", "node0",
                 "--kubeconfig", str(kubeconfig), "--namespace", "metallb-system",
                 "--host", "127.0.0.1", "--port", "0", "--exabgp-netns", node.netns,
                 "--state-dir", str(tmp_path / "state")],
                stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            poll_until(lambda: cluster.lab.nexthops("198.51.100.10/32") == [node.ipv4], 20,
                       what="route from the speaker process")
            os.kill(proc.pid, signal.SIGTERM)
            gone_while_running = None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                running = proc.poll() is None
                if not cluster.lab.nexthops("198.51.100.10/32"):
                    gone_while_running = running
                    break
            assert gone_while_running is True, log_path.read_text()[-2000:]
            assert proc.wait(timeout=15) == 0
            text = log_path.read_text()
            assert "event=exabgp_withdrawn_all" in text
            assert "Traceback" not in text
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
