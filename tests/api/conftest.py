"""API-level tests: everything goes through the official client (or kubectl) over HTTP."""

from tests.support.apiserver import apiserver, kube_client, make_apiserver  # noqa: F401
