"""The informer reads its list in pages and caches every object through its transform
(list pages, watch events and its own writes alike): played without a server, a fake
list function that honours `limit` and `continue` as the API does."""

from __future__ import annotations

import json
from types import SimpleNamespace

from metallb.kube.informer import Informer, list_all


def cm(name: str, rv: str) -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv,
                         "managedFields": [{"manager": "x"}]}, "data": {"v": name}}


def paged(objs: list[dict], versions: list[str]):
    """A list function serving `objs` `limit` at a time; page k says version k."""
    calls: list[dict] = []

    def list_func(**kwargs: object) -> SimpleNamespace:
        calls.append(kwargs)
        start = int(kwargs.get("_continue") or 0)
        limit = int(kwargs["limit"])
        page = objs[start:start + limit]
        meta = {"resourceVersion": versions[min(len(calls) - 1, len(versions) - 1)]}
        if start + limit < len(objs):
            meta["continue"] = str(start + limit)
        return SimpleNamespace(data=json.dumps({"metadata": meta, "items": page}).encode())

    return list_func, calls


def drop_managed_fields(obj: dict) -> dict:
    return {**obj, "metadata": {k: v for k, v in obj["metadata"].items()
                                if k != "managedFields"}}


def test_list_all_follows_continue_tokens_and_watches_from_the_first_pages_version():
    objs = [cm(f"c{i}", str(i)) for i in range(7)]
    list_func, calls = paged(objs, ["first", "second", "third"])
    got, version = list_all(list_func, transform=drop_managed_fields, page_size=3,
                            field_selector="x=y")
    assert [o["metadata"]["name"] for o in got] == [f"c{i}" for i in range(7)]
    assert all("managedFields" not in o["metadata"] for o in got)
    assert version == "first"
    assert [c.get("_continue") for c in calls] == [None, "3", "6"]
    assert all(c["limit"] == 3 and c["field_selector"] == "x=y" for c in calls)


def test_the_cache_holds_transformed_objects_from_lists_watches_and_local_writes():
    list_func, _calls = paged([cm("a", "1"), cm("b", "2")], ["10"])
    seen: list = []
    inf = Informer("cm", list_func, lambda kind, obj: seen.append(obj),
                   transform=drop_managed_fields, page_size=1)
    inf._relist()
    inf.apply_event({"type": "MODIFIED", "object": cm("a", "11")})
    inf.update_local(cm("c", "12"))
    for key in ("ns/a", "ns/b", "ns/c"):
        assert "managedFields" not in inf.get(key)["metadata"]
    assert all("managedFields" not in obj["metadata"] for obj in seen)
    assert inf.get("ns/a")["metadata"]["resourceVersion"] == "11"
