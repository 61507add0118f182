"""An informer with `missing_retry` (the metallb.io kinds): a kind the server does not
serve (404: its CRD not installed) or does not let us read (403: RBAC from before) is an
empty, synced cache, listed again later; once served, its objects arrive. Without
`missing_retry` a 404 stays an error (not synced). The list function is a fake."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest
from kubernetes.client.exceptions import ApiException

from metallb.kube.informer import Informer
from metallb.wait import poll_until

POOL = {"metadata": {"name": "a", "namespace": "metallb-system", "resourceVersion": "7"}}


class FakeList:
    """Fails with `status` until `serve` is set; then lists POOL, and watches end at once
    (an empty stream) so the informer keeps asking."""

    def __init__(self, status: int):
        self.status = status
        self.serve = threading.Event()
        self.calls = 0

    def __call__(self, **kwargs):
        self.calls += 1
        if not self.serve.is_set():
            raise ApiException(status=self.status, reason="nope")
        if kwargs.get("watch"):
            self.serve.wait(0.05)
            return SimpleNamespace(data=b"", release_conn=lambda: None,
                                   stream=lambda *a, **k: iter(()), connection=None,
                                   read_chunked=lambda *a, **k: iter(()), closed=True)
        body = {"metadata": {"resourceVersion": "7"}, "items": [POOL]}
        return SimpleNamespace(data=json.dumps(body).encode())


@pytest.mark.parametrize("status", [403, 404])
def test_a_kind_not_served_is_empty_and_synced_then_picked_up(status):
    lister = FakeList(status)
    seen: list[str] = []
    informer = Informer("config-ipaddresspools", lister, lambda kind, obj: seen.append(kind),
                        missing_retry=0.05).start()
    try:
        poll_until(informer.synced.is_set, 5, what="synced although not served")
        assert informer.missing and informer.items() == []
        poll_until(lambda: lister.calls >= 3, 5, what="listed again")
        lister.serve.set()
        poll_until(lambda: informer.keys() == ["metallb-system/a"], 5, what="the object")
        assert not informer.missing and seen[0] == "ADDED"
    finally:
        informer.stop()


def test_without_missing_retry_a_404_is_an_error_and_never_synced():
    lister = FakeList(404)
    informer = Informer("services", lister, lambda kind, obj: None).start()
    try:
        poll_until(lambda: lister.calls >= 2, 5, what="retried with backoff")
        assert not informer.synced.is_set() and not informer.missing
    finally:
        informer.stop()
