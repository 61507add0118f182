"""`metallb lab apiserver` as a separate process: kubeconfig, faults over HTTP, clean
stop on SIGTERM, clear errors for bad input."""

from __future__ import annotations

import socket
import subprocess
import sys

import kubernetes
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.apiserver import ApiServerProcess
from lab.harness.requires import require_program
from tests.api.emulator.objects import configmap


def test_runs_writes_kubeconfig_and_stops_on_sigterm(tmp_path):
    kubeconfig = tmp_path / "kc.yaml"
    server = ApiServerProcess(kubeconfig, token="secret", seed=5).start()
    try:
        api = kubernetes.config.new_client_from_config(str(kubeconfig))
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map("default", configmap("c"))
        assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == [
            "c"]
        server.faults.force_status(500, verbs={"get"})
        with pytest.raises(ApiException) as err:
            core.read_namespaced_config_map("c", "default")
        assert err.value.status == 500
        api.close()
    finally:
        code = server.stop()
    assert code == 0


def test_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "metallb", "lab", "apiserver", "--port",
                                 str(port), "--kubeconfig", str(tmp_path / "kc")],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--port", "70000"], "--port: must be between 0 and 65535 (value: 70000)"),
    (["--history-limit", "0"], "--history-limit: must be at least 1 (value: 0)"),
])
def test_bad_arguments_are_clear_errors(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "metallb", "lab", "apiserver",
                             "--kubeconfig", str(tmp_path / "kc"), *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_kubeconfig_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run([sys.executable, "-m", "metallb", "lab", "apiserver",
                             "--kubeconfig", str(blocker / "kc")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "cannot write --kubeconfig" in result.stderr
    assert "Traceback" not in result.stderr


def test_lab_needs_a_subcommand():
    result = subprocess.run([sys.executable, "-m", "metallb", "lab"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2 and "apiserver" in result.stderr


def test_tls_process_with_token(tmp_path):
    require_program("openssl", "openssl")
    kubeconfig = tmp_path / "kc.yaml"
    with ApiServerProcess(kubeconfig, token="secret", extra_args=("--tls",)) as server:
        assert server.url.startswith("https://127.0.0.1:") and server.ca_cert
        api = kubernetes.config.new_client_from_config(str(kubeconfig))
        assert client.CoreV1Api(api).read_namespace("default").status.phase == "Active"
        api.close()
        server.faults.force_status(500, verbs={"list"})
        assert server.faults.to_dict()["forced"][0]["code"] == 500


def test_service_account_tokens_from_flags_and_control_endpoint(tmp_path):
    kubeconfig = tmp_path / "kc.yaml"
    flags = ("--enforce-rbac", "--service-account-token",
             "metallb-system/controller=fixed-token")
    with ApiServerProcess(kubeconfig, token="admin", extra_args=flags) as server:
        made = server.service_account_token("metallb-system", "speaker")
        for token, user in [("fixed-token", "controller"), (made, "speaker")]:
            config = client.Configuration(host=server.url,
                                          api_key={"authorization": token},
                                          api_key_prefix={"authorization": "Bearer"})
            with client.ApiClient(config) as api:
                with pytest.raises(ApiException) as err:
                    client.CoreV1Api(api).list_namespaced_service("default")
                assert err.value.status == 403
                assert f"system:serviceaccount:metallb-system:{user}" in err.value.body


def test_bad_service_account_token_flag(tmp_path):
    result = subprocess.run([sys.executable, "-m", "metallb", "lab", "apiserver",
                             "--kubeconfig", str(tmp_path / "kc"),
                             "--service-account-token", "nonsense"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "expected NAMESPACE/NAME=TOKEN (value: 'nonsense')" in result.stderr
