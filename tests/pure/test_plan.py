"""`metallb plan`: output format, ordering, exit codes, and no traceback on bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from metallb.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "examples" / "config.yaml"
EXAMPLE_SERVICES = REPO / "examples" / "services.yaml"

BARE_CONFIG = """
address-pools:
  - name: pool1
    protocol: bgp
    addresses: [198.51.100.0/24]
  - name: v6
    protocol: bgp
    auto-assign: false
    addresses: [2001:db8::/64, 203.0.113.0/28]
"""

# Service sets of the plan cases below (also planned with converted CRDs elsewhere).
LIST_SERVICES = """
apiVersion: v1
kind: List
items:
- kind: Service
  metadata: {name: newcomer}
  spec: {type: LoadBalancer}
- kind: Service
  metadata: {name: veteran, namespace: shop}
  spec: {type: LoadBalancer}
  status: {loadBalancer: {ingress: [{ip: 198.51.100.0}]}}
- kind: Service
  spec:
    type: LoadBalancer
    ipFamilies: [IPv6, IPv4]
    loadBalancerIP: ""
  metadata: {name: dual, annotations: {metallb.universe.tf/address-pool: v6}}
- kind: Service
  metadata: {name: internal}
  spec: {type: ClusterIP}
- kind: ConfigMap
  metadata: {name: ignored}
"""
FAILING_SERVICES = """
kind: Service
metadata: {name: a, annotations: {metallb.universe.tf/address-pool: nope}}
spec: {type: LoadBalancer}
---
kind: Service
metadata: {name: b}
spec: {type: LoadBalancer, loadBalancerIP: "not an ip"}
"""


def run(tmp_path, capsys, services: str, config: str = BARE_CONFIG):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config)
    svcs = tmp_path / "services.yaml"
    svcs.write_text(services)
    code = main(["plan", "--config", str(cfg), "--services", str(svcs)])
    out, err = capsys.readouterr()
    return code, out, err


def test_example_files_end_to_end_in_a_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "metallb", "plan", "--config", str(EXAMPLE_CONFIG),
         "--services", str(EXAMPLE_SERVICES)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    services = result["services"]
    assert services["default/web"]["ips"] == ["198.51.100.20"]
    assert services["default/web"]["pool"] == "pool1"
    assert services["default/nginx"] == {
        "ips": ["203.0.113.16"], "pool": "pool2",
        "events": [{"type": "Normal", "reason": "IPAllocated",
                    "message": "Assigned IP 203.0.113.16"}],
    }
    assert services["infra/dns-tcp"]["ips"] == services["infra/dns-udp"]["ips"] == [
        "203.0.113.17"
    ]
    assert result["pools"] == {
        "pool1": {"addresses_total": 1, "addresses_in_use": 1},
        "pool2": {"addresses_total": 16, "addresses_in_use": 2},
    }


def test_kind_list_existing_first_dual_stack_and_unhandled(tmp_path, capsys):
    services = LIST_SERVICES
    code, out, err = run(tmp_path, capsys, services)
    assert code == 0, err
    result = json.loads(out)
    assert list(result["services"]) == [
        "default/newcomer", "shop/veteran", "default/dual", "default/internal"]
    assert result["services"]["shop/veteran"] == {"ips": ["198.51.100.0"], "pool": "pool1",
                                                  "events": []}
    assert result["services"]["default/newcomer"]["ips"] == ["198.51.100.1"]
    assert result["services"]["default/dual"]["ips"] == ["203.0.113.0", "2001:db8::"]
    assert result["services"]["default/internal"] == {"ips": [], "pool": None, "events": []}
    assert result["pools"]["v6"] == {"addresses_total": 2**64 + 16, "addresses_in_use": 2}
    assert "skipping kind 'ConfigMap'" in err


def test_per_service_failures_are_in_the_output_with_exit_0(tmp_path, capsys):
    services = FAILING_SERVICES
    code, out, _ = run(tmp_path, capsys, services)
    assert code == 0
    result = json.loads(out)["services"]
    assert result["default/a"]["events"] == [{
        "type": "Warning", "reason": "AllocationFailed",
        "message": 'Failed to allocate IP for "default/a": unknown pool "nope"'}]
    assert result["default/b"]["events"][0]["reason"] == "LoadBalancerFailed"
    assert result["default/b"]["ips"] == []


def test_invalid_config_exit_1_with_issues_on_stderr(tmp_path, capsys):
    code, out, err = run(tmp_path, capsys, "kind: Service\nmetadata: {name: a}\n",
                         config="address-pools:\n  - name: p\n    protocol: bgp\n"
                                "    addresses: [198.51.100.0/33]\n")
    assert code == 1
    assert out == ""
    assert "address-pools[0].addresses[0]" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("services", "fragment"),
    [
        ("kind: Service\nmetadata: {name: a\n", "invalid YAML at line"),
        ("- just\n- a list\n", "is not a Kubernetes object"),
        ("kind: Service\nspec: {}\n", "metadata.name is missing"),
        ("kind: List\nitems: 5\n", "needs a list of `items`"),
        ("kind: Service\nmetadata: {name: a, namespace: 7}\n", "metadata.namespace"),
    ],
)
def test_unreadable_services_exit_2(tmp_path, capsys, services, fragment):
    code, out, err = run(tmp_path, capsys, services)
    assert code == 2
    assert out == ""
    assert fragment in err
    assert "Traceback" not in err


def test_missing_files_and_binary_exit_2(tmp_path, capsys):
    code = main(["plan", "--config", str(tmp_path / "nope.yaml"),
                 "--services", str(EXAMPLE_SERVICES)])
    assert code == 2
    assert "cannot read" in capsys.readouterr().err
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    code = main(["plan", "--config", str(EXAMPLE_CONFIG), "--services", str(binary)])
    assert code == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_missing_argument_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plan", "--config", str(EXAMPLE_CONFIG)])
    assert exc.value.code == 2
    assert "--services" in capsys.readouterr().err


def test_empty_services_file(tmp_path, capsys):
    code, out, _ = run(tmp_path, capsys, "")
    assert code == 0
    assert json.loads(out) == {
        "services": {},
        "pools": {"pool1": {"addresses_total": 256, "addresses_in_use": 0},
                  "v6": {"addresses_total": 2**64 + 16, "addresses_in_use": 0}},
    }


# rule C23
def test_config_warnings_on_stderr_plan_on_stdout(tmp_path, capsys):
    services = "kind: Service\nmetadata: {name: a}\nspec: {type: LoadBalancer}\n"
    config = "address-pools:\n- {name: p, protocol: bgp, addresses: [198.51.100.7/24]}\n"
    code, out, err = run(tmp_path, capsys, services, config)
    assert code == 0
    assert json.loads(out)["services"]["default/a"]["ips"] == ["198.51.100.0"]
    assert err == (
        f"{tmp_path / 'config.yaml'}: warning: address-pools[0].addresses[0]: has host bits "
        "set; read as 198.51.100.0/24, the whole network (value: '198.51.100.7/24')\n"
    )


def test_config_from_stdin(tmp_path, capsys, monkeypatch):
    svcs = tmp_path / "services.yaml"
    svcs.write_text("kind: Service\nmetadata: {name: a}\nspec: {type: LoadBalancer}\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BARE_CONFIG.encode())))
    code = main(["plan", "--config", "-", "--services", str(svcs)])
    out, _err = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["services"]["default/a"]["ips"] == ["198.51.100.0"]
