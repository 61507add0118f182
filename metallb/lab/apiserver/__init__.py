"""A faithful Kubernetes API emulator for tests and the lab (no kube-apiserver can run
here). Spoken to over HTTP by the official `kubernetes` client and kubectl.

    with ApiServer() as api:
        api.write_kubeconfig("kubeconfig")
        api.faults.fail_share(0.2, verbs={"patch"})

`ApiServerProcess` runs it as a separate process (`metallb lab apiserver`) and reaches
its faults over HTTP (`RemoteFaults`).
"""

from metallb.lab.apiserver.errors import ApiError
from metallb.lab.apiserver.faults import Faults
from metallb.lab.apiserver.rbac import Identity
from metallb.lab.apiserver.remote import ApiServerProcess, RemoteFaults
from metallb.lab.apiserver.server import ApiServer

__all__ = ["ApiError", "ApiServer", "ApiServerProcess", "Faults", "Identity", "RemoteFaults"]
