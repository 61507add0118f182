"""Fixtures: a fresh API emulator per test (`apiserver` from tests/support: the
controller watches every namespace, so tests must not share one), the official client on
it, and controllers in-process or as child processes, always stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from controller.cli import Settings
from controller.daemon import ControllerDaemon
from lab.apiserver import ApiServer
from lab.harness.daemons import ControllerProcess
from tests.api.controller.support import NAMESPACE, ensure_namespace
from tests.support.apiserver import apiserver  # noqa: F401 - a fresh emulator per test


@pytest.fixture
def kubeconfig(apiserver: ApiServer, tmp_path: Path) -> Path:  # noqa: F811
    return apiserver.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def api_client(kubeconfig: Path) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    core = client.CoreV1Api(api_client)
    ensure_namespace(core, NAMESPACE)
    ensure_namespace(core, "demo")
    return core


@pytest.fixture
def start_controller(kubeconfig: Path) -> Iterator[Callable[..., ControllerDaemon]]:
    """An in-process controller (own ApiClient, metrics on a free loopback port)."""
    started: list[ControllerDaemon] = []

    def start(**overrides) -> ControllerDaemon:
        fields = {"host": "127.0.0.1", "port": 0, "leader_election": False,
                  "identity": f"inproc-{len(started)}", **overrides}
        settings = Settings(**fields)
        api = config.new_client_from_config(config_file=str(kubeconfig))
        daemon = ControllerDaemon(settings, api).start()
        started.append(daemon)
        return daemon

    try:
        yield start
    finally:
        for daemon in started:
            daemon.stop()


@pytest.fixture
def spawn_controller(
    kubeconfig: Path, tmp_path: Path
) -> Iterator[Callable[..., ControllerProcess]]:
    """`python -m controller` subprocesses; stopped (SIGTERM, then SIGKILL) by PID."""
    spawned: list[ControllerProcess] = []

    def spawn(identity: str, *extra: str, lease_duration: float = 2.0) -> ControllerProcess:
        proc = ControllerProcess(kubeconfig, tmp_path, identity, *extra,
                                 lease_duration=lease_duration)
        spawned.append(proc)
        return proc

    try:
        yield spawn
    finally:
        for proc in spawned:
            proc.stop()
