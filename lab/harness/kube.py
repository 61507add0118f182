"""An official-client `ApiClient` for an emulator, as tests, benches and the harness use."""

from __future__ import annotations

import kubernetes

from lab.apiserver import ApiServer


def api_client_for(server: ApiServer, token: str | None = None) -> kubernetes.client.ApiClient:
    """An official-client ApiClient for `server` (with `token`, or the server's own)."""
    config = kubernetes.client.Configuration()
    config.host = server.url
    if server.ca_cert_path:
        config.ssl_ca_cert = str(server.ca_cert_path)
    bearer = token or server.token
    if bearer:
        config.api_key = {"authorization": bearer}
        config.api_key_prefix = {"authorization": "Bearer"}
    return kubernetes.client.ApiClient(config)
