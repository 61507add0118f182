"""A faithful Kubernetes API emulator for tests and the lab (no kube-apiserver can run
here). Spoken to over HTTP by the official `kubernetes` client and kubectl.

    with ApiServer() as api:
        api.write_kubeconfig("kubeconfig")
        api.faults.fail_share(0.2, verbs={"patch"})

`ApiServerProcess` runs it as a separate process (`metallb lab apiserver`) and reaches
its faults over HTTP (`RemoteFaults`).
"""

from lab.apiserver.errors import ApiError
from lab.apiserver.faults import Faults
from lab.apiserver.rbac import Identity
from lab.apiserver.remote import ApiServerProcess, RemoteFaults
from lab.apiserver.server import ApiServer

__all__ = ["ApiError", "ApiServer", "ApiServerProcess", "Faults", "Identity", "RemoteFaults"]
