"""Building an official-client ApiClient the way upstream MetalLB finds its cluster."""

from __future__ import annotations

import os

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException


def load_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """`--kubeconfig` if given, else in-cluster, else `KUBECONFIG` / `~/.kube/config`."""
    if kubeconfig:
        return config.new_client_from_config(config_file=kubeconfig)
    try:
        cfg = client.Configuration()
        config.load_incluster_config(client_configuration=cfg)
        return client.ApiClient(cfg)
    except ConfigException:
        pass
    path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    if not os.path.exists(path):
        raise ConfigException(
            "no Kubernetes API found: not running in a cluster, and no kubeconfig at "
            f"{path}; pass --kubeconfig FILE or set KUBECONFIG"
        )
    return config.new_client_from_config(config_file=path)

