"""The list+watch informer against the emulator over HTTP: ordered events, resume after a
cut stream without relisting, relist after 410 with the difference as events, and
local writes that never regress or resurrect objects."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client

from metallb.kube.informer import Informer
from metallb.wait import poll_until
from tests.support.apiserver import apiserver, kube_client  # noqa: F401

NS = "informer-test"


class Recorder:
    def __init__(self):
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, kind, obj):
        with self._lock:
            self.events.append((kind, obj["metadata"]["name"]))

    def seen(self, item):
        with self._lock:
            return item in self.events

    def count(self, item):
        with self._lock:
            return self.events.count(item)


@pytest.fixture
def core(kube_client):  # noqa: F811
    core = client.CoreV1Api(kube_client)
    core.create_namespace({"metadata": {"name": NS}})
    return core


@pytest.fixture
def informer(core):
    recorder = Recorder()
    inf = Informer("cm", core.list_namespaced_config_map, recorder, namespace=NS,
                   field_selector="metadata.name!=ignored")
    inf.recorder = recorder
    inf.start()
    try:
        poll_until(inf.synced.is_set, what="informer synced")
        yield inf
    finally:
        inf.stop()
        assert inf._thread is not None and not inf._thread.is_alive()


def _cm(name, value="1"):
    return {"metadata": {"name": name, "namespace": NS}, "data": {"v": value}}


def test_list_then_watch_in_order_with_field_selector(core, informer):
    core.create_namespaced_config_map(NS, _cm("a"))
    core.create_namespaced_config_map(NS, _cm("ignored"))
    core.patch_namespaced_config_map("a", NS, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("a", NS)
    rec = informer.recorder
    poll_until(lambda: rec.seen(("DELETED", "a")), what="DELETED a")
    assert rec.events == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    assert informer.get(f"{NS}/a") is None and informer.get(f"{NS}/ignored") is None


def test_cut_stream_resumes_without_relist_or_duplicates(core, informer, apiserver):  # noqa: F811
    core.create_namespaced_config_map(NS, _cm("before"))
    poll_until(lambda: informer.recorder.seen(("ADDED", "before")), what="ADDED before")
    assert apiserver.faults.cut_watches() >= 1
    core.create_namespaced_config_map(NS, _cm("after"))
    poll_until(lambda: informer.recorder.seen(("ADDED", "after")), what="ADDED after")
    assert informer.relists == 1
    assert informer.recorder.count(("ADDED", "before")) == 1


def test_410_relists_and_reports_the_difference(core, informer, apiserver):  # noqa: F811
    core.create_namespaced_config_map(NS, _cm("gone"))
    core.create_namespaced_config_map(NS, _cm("kept"))
    poll_until(lambda: informer.get(f"{NS}/kept"), what="kept cached")
    # Keep the informer away while things change, then make its resume fail with 410.
    apiserver.faults.fail_share(1.0, code=500, verbs={"watch", "list"})
    apiserver.faults.cut_watches()
    core.delete_namespaced_config_map("gone", NS)
    core.patch_namespaced_config_map("kept", NS, {"data": {"v": "2"}})
    core.create_namespaced_config_map(NS, _cm("new"))
    apiserver.faults.clear()
    apiserver.faults.force_status(410, count=1, verbs={"watch"})
    rec = informer.recorder
    poll_until(lambda: rec.seen(("ADDED", "new")), timeout=15, what="ADDED new after relist")
    assert informer.relists == 2
    assert rec.seen(("DELETED", "gone")) and rec.seen(("MODIFIED", "kept"))
    assert informer.get(f"{NS}/kept")["data"] == {"v": "2"}
    assert sorted(informer.keys()) == [f"{NS}/kept", f"{NS}/new"]


def test_update_local_never_regresses_or_resurrects(core, informer):
    first = core.create_namespaced_config_map(NS, _cm("x"), _preload_content=False)
    import json

    old = json.loads(first.data)
    poll_until(lambda: informer.recorder.seen(("ADDED", "x")), what="ADDED x")
    newer = json.loads(core.patch_namespaced_config_map(
        "x", NS, {"data": {"v": "2"}}, _preload_content=False).data)
    informer.update_local(newer)
    informer.update_local(old)  # the watch showed it already: stale, ignored
    assert informer.get(f"{NS}/x")["data"] == {"v": "2"}
    core.delete_namespaced_config_map("x", NS)
    poll_until(lambda: informer.recorder.seen(("DELETED", "x")), what="DELETED x")
    informer.update_local(newer)  # a write that raced with the delete
    assert informer.get(f"{NS}/x") is None
