"""The speaker's BGP half in a process of its own, for tests that kill it: metallb.io
objects -> parse_crds -> the planner -> an ExaBGPDriver (ExaBGP in a node namespace).

    python -m tests.bgp.bgp_process SPEC.json

SPEC: {"state_dir", "netns", "addresses": [...], "objects": [...], "services": [...]}.
Prints one JSON line {"pid": ..., "exabgp": ...} once ExaBGP runs and its routes are
handed to it, then runs until SIGTERM (the speaker's stop: `driver.stop(withdraw=True)`)
or until it is killed. The speaker daemon itself reads only the ConfigMap so far; this
is what it does with a plan, without the Kubernetes side.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from metallb.config.crds.parse import parse_crds
from metallb.logs import configure_logging
from speaker.bgp import PeerSpec
from speaker.exabgp.driver import ExaBGPDriver
from speaker.node import NodeInfo
from speaker.planner import plan


def endpoints_of(service: dict) -> dict:
    name = service["metadata"]["name"]
    return {"metadata": {"name": f"{name}-x", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": name}},
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}]}


def main(spec_path: str) -> int:
    configure_logging("info")  # to stderr: the test keeps it in a file beside the spec
    spec = json.loads(Path(spec_path).read_text())
    config = parse_crds(spec["objects"])
    services = spec["services"]
    result = plan(config, NodeInfo("node0"), services, [endpoints_of(s) for s in services])
    driver = ExaBGPDriver(spec["state_dir"], spec["addresses"], netns=spec["netns"])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    driver.start()
    try:
        driver.set_peers([PeerSpec.from_peer(p, spec["addresses"])
                          for p in result.peers.values()])
        driver.set_routes(result.routes)
        print(json.dumps({"pid": os.getpid(), "exabgp": driver.pid}), flush=True)
        stop.wait()
    finally:
        driver.stop(withdraw=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
