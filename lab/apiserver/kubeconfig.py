"""The kubeconfig that points kubectl and the official client at the emulator."""

from __future__ import annotations

import yaml


def kubeconfig_text(url: str, token: str | None = None, name: str = "metallb-lab",
                    ca_data: str | None = None) -> str:
    """ca_data: base64 PEM of the certificate to trust (HTTPS only)."""
    user: dict[str, str] = {"token": token} if token else {}
    cluster: dict[str, str] = {"server": url}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name,
                                                "namespace": "default"}}],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)
