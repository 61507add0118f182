"""Fixtures for tests that need a Kubernetes API: the emulator on a free loopback port
and an official-client `ApiClient` pointed at it.

Use from a conftest or test module:
    from tests.support.apiserver import apiserver, kube_client  # noqa: F401

`make_apiserver(**kwargs)` starts servers with other settings (history_limit,
bookmark_interval, token, enforce_rbac ...); all are stopped when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest

from lab.apiserver import ApiServer
from lab.harness.kube import api_client_for


@pytest.fixture
def apiserver() -> Iterator[ApiServer]:
    """A fresh emulator per test (seeded, so generated names and faults repeat)."""
    with ApiServer(seed=1234) as server:
        yield server


@pytest.fixture
def kube_client(apiserver: ApiServer) -> Iterator[kubernetes.client.ApiClient]:
    client = api_client_for(apiserver)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def make_apiserver() -> Iterator[Callable[..., ApiServer]]:
    started: list[ApiServer] = []

    def make(**kwargs: Any) -> ApiServer:
        server = ApiServer(**kwargs).start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()
