"""The speaker as users run it: `python -m speaker` in its own process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from lab.harness.speaker_cluster import speaker_cluster
from metallb.wait import poll_until


def withdraw_then_down(bgpd_log: str, peer: str, prefix: str) -> tuple[int, int]:
    """Line numbers in FRR's bgpd log (with `debug bgp updates` and `neighbor-events`) of
    the first withdraw of `prefix` received from `peer` and of the first time its
    session left Established; -1 when absent."""
    withdrawn = down = -1
    for number, line in enumerate(bgpd_log.splitlines()):
        if withdrawn < 0 and re.search(
                rf"\b{re.escape(peer)}\(.*\) rcvd UPDATE about {re.escape(prefix)} .*withdrawn",
                line):
            withdrawn = number
        if down < 0 and re.search(rf"\b{re.escape(peer)} went from Established to", line):
            down = number
    return withdrawn, down


# rule D3: the router received the withdraw while the session was still Established,
# i.e. "withdraw, then stop", not "stop" (which also empties the kernel table)
def test_sigterm_withdraws_before_the_process_exits(tmp_path):
    with speaker_cluster(1, start_speakers=False) as cluster:
        node = cluster.lab.nodes[0]
        router = cluster.lab.router
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
            router.vtysh("debug bgp updates")
            router.vtysh("debug bgp neighbor-events")
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
            poll_until(lambda: not cluster.lab.nexthops("198.51.100.10/32"), 10,
                       what="route gone at the router")
            text = log_path.read_text()
            assert "event=exabgp_withdrawn_all" in text
            assert "Traceback" not in text
            bgpd_log = router.state_dir / "bgpd.log"
            withdrawn, down = poll_until(
                lambda: (lines := withdraw_then_down(bgpd_log.read_text(), node.ipv4,
                                                     "198.51.100.10/32"))[1] >= 0 and lines,
                10, what="the session's end in FRR's log")
            assert 0 <= withdrawn < down, (withdrawn, down)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
