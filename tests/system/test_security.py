"""Security under the real daemons: BGP passwords (static config and node annotation)
never appear in logs, metrics, Events or `metallb config check` output; the daemons stay
within their rendered RBAC (the emulator enforces it and records every refusal); the
metrics endpoint listens only on the configured address."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab.harness.daemons import REPO
from lab.harness.stack import config_text, system_stack
from metallb.wait import poll_until
from tests.api.controller.support import fetch, metric_value

STATIC_SECRET = "St4ticSecretPw-91x"
NODE_SECRET = "N0deAnnotationPw-37q"
PASS_KEY = "example.com/bgp-pass"


def _config_with_autodiscovery(valid: bool = True) -> str:
    doc = yaml.safe_load(config_text(peer_password=STATIC_SECRET))
    doc["peer-autodiscovery"] = {
        "from-annotations": [{"peer-address": "example.com/peer-ip",
                              "password": PASS_KEY}],
        "defaults": {"my-asn": 64513, "peer-asn": 64512, "hold-time": "3s"}}
    if not valid:  # the password sits next to the mistakes the error messages quote
        doc["peers"][1]["hold-time"] = "1s"
        doc["peers"][1]["peer-asn"] = "not-a-number"
    return yaml.safe_dump(doc)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        host, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(host)[::-1]))
    return found


@pytest.mark.timeout(240)
def test_passwords_never_leak_and_rbac_holds(tmp_path):
    with system_stack(config=_config_with_autodiscovery()) as stack:
        # node0 autodiscovers a peer with a password; node1's annotation is broken
        # (IPv6 where the session needs IPv4 and no ASN override), still with a password.
        stack.core.patch_node("node0", {"metadata": {"annotations": {
            "example.com/peer-ip": "192.0.2.251", PASS_KEY: NODE_SECRET}}})
        stack.core.patch_node("node1", {"metadata": {"annotations": {
            "example.com/peer-ip": "2001:db8::zz", PASS_KEY: NODE_SECRET}}})
        stack.create_service("web")
        stack.wait_converged(60)
        # An invalid config carrying the password: refused, last good kept.
        stack.set_config(_config_with_autodiscovery(valid=False))
        controller = stack.controllers[0]
        poll_until(lambda: metric_value(controller.port,
                                        "metallb_k8s_client_config_stale_bool") == 1.0,
                   timeout=30, what="the controller refuses the invalid config")
        for proc in stack.speakers.values():
            poll_until(lambda p=proc: metric_value(
                p.port, "metallb_k8s_client_config_stale_bool") == 1.0,
                timeout=30, what="the speakers refuse the invalid config")
        stack.set_config(_config_with_autodiscovery())
        stack.create_service("after")
        stack.wait_converged(60)

        places: dict[str, str] = dict(stack.all_logs())
        for path in stack.workdir.glob("s-*/*.log*"):  # ExaBGP's own logs
            places[str(path)] = path.read_text(errors="replace")
        assert any("exabgp" in name for name in places), list(places)
        for proc in [*stack.controllers, *stack.speakers.values()]:
            places[f"metrics:{proc.log_path.name}"] = fetch(
                f"http://127.0.0.1:{proc.port}/metrics")[1]
        events = stack.admin.sanitize_for_serialization(
            stack.core.list_event_for_all_namespaces().items)
        places["events"] = json.dumps(events)
        assert events, "the daemons recorded no Events at all"
        # The speakers did see the node's peers (so the secrets were in play).
        assert any("2001:db8::zz" in text or "node1" in text
                   for name, text in places.items() if "speaker-node1" in name)
        for name, text in places.items():
            for secret in (STATIC_SECRET, NODE_SECRET):
                assert secret not in text, f"{secret} shown in {name}"
        assert not stack.server.denials, stack.server.denials[:5]


@pytest.mark.parametrize("valid", [True, False])
def test_config_check_never_prints_the_password(tmp_path, valid):
    path = tmp_path / "config.yaml"
    path.write_text(_config_with_autodiscovery(valid))
    result = subprocess.run([sys.executable, "-m", "metallb", "config", "check", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == (0 if valid else 1), result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    if not valid:
        assert "peers[1]" in output  # the error does name the place
    assert STATIC_SECRET not in output and NODE_SECRET not in output


@pytest.mark.timeout(120)
def test_metrics_listen_only_on_the_configured_host():
    with system_stack(nodes=1) as stack:
        for proc in [*stack.controllers, *stack.speakers.values()]:
            assert _listening_addresses(proc.port) == {"127.0.0.1"}, proc.log_path.name
            with socket.socket() as sock:  # another local address: nobody listens there
                sock.settimeout(5)
                assert sock.connect_ex(("127.0.0.2", proc.port)) != 0
            assert fetch(f"http://127.0.0.1:{proc.port}/metrics")[0] == 200
