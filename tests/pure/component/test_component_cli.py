"""`metallb component ...` from the command line: output, exit codes, error messages."""

from __future__ import annotations

import subprocess
import sys

import yaml

from metallb.cli import main
from tests.support.component import REPO, SEED_BLOCK, block, write


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metallb", "component", *args], cwd=REPO,
                          input=stdin, capture_output=True, text=True, timeout=60, check=False)


def test_render_prints_a_yaml_stream(tmp_path, capsys):
    path = write(tmp_path, SEED_BLOCK)
    assert main(["component", "render", "--config", str(path)]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert documents[0]["kind"] == "Namespace"
    assert "PrometheusRule" in {d["kind"] for d in documents}


def test_lokocfg_alias_and_directory(tmp_path, capsys):
    write(tmp_path, 'variable "m" {}\n' + block("service_monitor = var.m"))
    write(tmp_path, "m = false\n", "lokocfg.vars")
    assert main(["component", "render", "--lokocfg", str(tmp_path)]) == 0
    kinds = {d["kind"] for d in yaml.safe_load_all(capsys.readouterr().out)}
    assert "ServiceMonitor" not in kinds


def test_vars_flag(tmp_path, capsys):
    write(tmp_path, 'variable "m" {}\n' + block("service_monitor = var.m"))
    vars_file = write(tmp_path, "m = true\n", "prod.vars")
    assert main(["component", "render", "--config", str(tmp_path), "--vars", str(vars_file)]) == 0
    assert "kind: ServiceMonitor" in capsys.readouterr().out


def test_errors_are_one_line_each_without_traceback(tmp_path):
    path = write(tmp_path, block('address_pools = { p = ["198.51.100.0/33"] }', "bogus = 1",
                                 pools=False))
    result = _run("render", "--config", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert sorted(lines) == sorted([
        f"error: {path}: address_pools.p[0]: is not a valid CIDR (value: '198.51.100.0/33')",
        f"error: {path}: bogus: unknown attribute; known: address_pools, "
        "controller_node_selectors, speaker_node_selectors, controller_toleration, "
        "speaker_toleration, service_monitor, controller_image, speaker_image, log_level, "
        "peer, bfd_profile, packet_peer_autodiscovery, config_format",
    ])


def test_missing_config_is_a_clear_error(tmp_path):
    result = _run("render", "--config", str(tmp_path / "nope.lokocfg"))
    assert result.returncode == 1
    assert "nope.lokocfg" in result.stderr and "no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_delete_asks_first_and_no_means_no(tmp_path):
    kubeconfig = tmp_path / "absent-kubeconfig"  # never reached: the answer is no
    result = _run("delete", "--kubeconfig", str(kubeconfig), stdin="n\n")
    assert result.returncode == 1
    assert "Delete every object of the metallb component? [y/N]" in result.stderr
    assert "not deleted" in result.stderr


def test_unreadable_kubeconfig_is_a_clear_error(tmp_path):
    kubeconfig = write(tmp_path, "this: [is not a kubeconfig", "kubeconfig")
    path = write(tmp_path, block())
    result = _run("apply", "--config", str(path), "--kubeconfig", str(kubeconfig))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {kubeconfig}: cannot load the cluster configuration")
    assert "Traceback" not in result.stderr


def test_unreachable_cluster_is_a_clear_error(tmp_path):
    kubeconfig = write(tmp_path, yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }), "kubeconfig")
    result = _run("delete", "--confirm", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 1
    assert "cannot reach the Kubernetes API at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr
