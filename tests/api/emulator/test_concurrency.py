"""Many watchers and writers at once: nothing lost, nothing reordered per object, and the
same resourceVersion order for every watcher."""

from __future__ import annotations

import threading

from kubernetes import client, watch

from lab.apiserver import ApiServer
from metallb.wait import poll_until
from tests.api.emulator.objects import configmap
from tests.support.apiserver import api_client_for

WATCHERS = 20
WRITERS = 8
UPDATES = 24
SHARED_UPDATES = 5
TOTAL = WRITERS * (1 + UPDATES) + 1 + WRITERS * SHARED_UPDATES


def _watch(server: ApiServer, rv: str, out: list, errors: list) -> None:
    try:
        with api_client_for(server) as api:
            w = watch.Watch()
            for event in w.stream(client.CoreV1Api(api).list_namespaced_config_map, "default",
                                  resource_version=rv, timeout_seconds=60):
                obj = event["raw_object"]
                out.append((event["type"], obj["metadata"]["name"],
                            int(obj["metadata"]["resourceVersion"]),
                            (obj.get("data") or {}).get("n")))
                if len(out) == TOTAL:
                    w.stop()
    except BaseException as exc:
        errors.append(exc)


def _write(server: ApiServer, writer: int, errors: list) -> None:
    try:
        with api_client_for(server) as api:
            core = client.CoreV1Api(api)
            name = f"w{writer}"
            core.create_namespaced_config_map("default", configmap(name, {"n": "0"}))
            for i in range(1, UPDATES + 1):
                core.patch_namespaced_config_map(name, "default", {"data": {"n": str(i)}})
                if i <= SHARED_UPDATES:  # every writer also touches one common object
                    core.patch_namespaced_config_map("shared", "default", {
                        "data": {name: str(i)}})
    except BaseException as exc:
        errors.append(exc)


def test_many_watchers_and_writers():
    with ApiServer() as server, api_client_for(server) as api:
        core = client.CoreV1Api(api)
        rv = core.list_namespaced_config_map("default").metadata.resource_version
        errors: list = []
        streams: list[list] = [[] for _ in range(WATCHERS)]
        watchers = [threading.Thread(target=_watch, args=(server, rv, s, errors), daemon=True)
                    for s in streams]
        for t in watchers:
            t.start()
        poll_until(lambda: server.store.open_watch_count() == WATCHERS, what="all watches")
        core.create_namespaced_config_map("default", configmap("shared"))
        writers = [threading.Thread(target=_write, args=(server, i, errors), daemon=True)
                   for i in range(WRITERS)]
        for t in writers:
            t.start()
        for t in writers + watchers:
            t.join(60)
        assert not errors, errors
        reference = [(t, n, v) for t, n, v, _d in streams[0]]
        assert len(reference) == TOTAL
        versions = [v for _t, _n, v in reference]
        assert versions == sorted(versions) and len(set(versions)) == TOTAL
        for stream in streams[1:]:
            assert [(t, n, v) for t, n, v, _d in stream] == reference
        for writer in range(WRITERS):
            mine = [(t, d) for t, n, _v, d in streams[0] if n == f"w{writer}"]
            assert mine == [("ADDED", "0")] + [("MODIFIED", str(i))
                                               for i in range(1, UPDATES + 1)]
        shared = [t for t, n, _v, _d in streams[0] if n == "shared"]
        assert shared == ["ADDED"] + ["MODIFIED"] * (WRITERS * SHARED_UPDATES)
