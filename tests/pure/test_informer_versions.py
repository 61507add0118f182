"""resourceVersion is opaque: the informer orders versions by the watch stream alone and
compares them for equality only (issue 12 item 5). Played without a server: a fake list
function for the initial list, then watch events handed to apply_event."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from metallb.kube.informer import HISTORY, Informer


def cm(name: str, rv: str, value: str) -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv},
            "data": {"v": value}}


def informer(*objs: dict, **options: object) -> tuple[Informer, list]:
    seen: list = []
    body = {"metadata": {"resourceVersion": "list-rv"}, "items": list(objs)}

    def list_func(**_: object) -> SimpleNamespace:
        return SimpleNamespace(data=json.dumps(body).encode())

    inf = Informer("cm", list_func, lambda kind, obj: seen.append(
        (kind, obj["metadata"]["resourceVersion"])), **options)
    inf._relist()
    return inf, seen


def event(kind: str, obj: dict) -> dict:
    return {"type": kind, "object": obj}


def test_a_local_write_is_not_undone_by_older_watch_events_with_non_numeric_versions():
    inf, seen = informer(cm("x", "zz9", "listed"))
    inf.update_local(cm("x", "aa1", "written"))  # our write: "smaller" text, newer
    inf.apply_event(event("MODIFIED", cm("x", "mm5", "between")))  # before our write
    assert inf.get("ns/x")["data"] == {"v": "written"}
    inf.apply_event(event("MODIFIED", cm("x", "aa1", "written")))  # our write's event
    inf.apply_event(event("MODIFIED", cm("x", "b", "after")))
    assert inf.get("ns/x")["data"] == {"v": "after"}
    assert seen == [("ADDED", "zz9"), ("MODIFIED", "aa1"), ("MODIFIED", "b")]


def test_quiet_echo_skips_the_handler_for_exactly_our_own_write():
    inf, seen = informer(cm("x", "1", "listed"), quiet_echo=True)
    inf.update_local(cm("x", "3", "written"))
    inf.apply_event(event("MODIFIED", cm("x", "2", "before our write")))  # older: cache kept
    inf.apply_event(event("MODIFIED", cm("x", "3", "written")))  # our write's echo
    assert inf.get("ns/x")["data"] == {"v": "written"} and inf.echoes == 1
    inf.apply_event(event("MODIFIED", cm("x", "4", "somebody else")))
    inf.apply_event(event("MODIFIED", cm("x", "4", "somebody else")))  # no local version
    assert seen == [("ADDED", "1"), ("MODIFIED", "4"), ("MODIFIED", "4")]
    assert inf.echoes == 1


def test_the_echo_of_our_own_write_is_not_transformed_again():
    transformed: list[str] = []

    def transform(obj: dict) -> dict:
        transformed.append(obj["metadata"]["resourceVersion"])
        return {**obj, "trimmed": True}

    inf, _ = informer(cm("x", "1", "listed"), quiet_echo=True, transform=transform)
    inf.update_local(cm("x", "3", "written"))
    local = inf.get("ns/x")
    inf.apply_event(event("MODIFIED", cm("x", "2", "before our write")))
    inf.apply_event(event("MODIFIED", cm("x", "3", "written")))  # the echo
    assert inf.get("ns/x") is local and inf.echoes == 1
    inf.apply_event(event("MODIFIED", cm("x", "4", "somebody else")))
    assert inf.get("ns/x")["trimmed"] and inf.get("ns/x")["data"] == {"v": "somebody else"}
    assert transformed == ["1", "3", "2", "4"]  # the list, our write, "2", "4": not the echo


def test_a_version_the_watch_already_delivered_never_replaces_a_newer_one():
    inf, _ = informer(cm("x", "10", "listed"))
    inf.apply_event(event("MODIFIED", cm("x", "9", "newer despite the number")))
    inf.update_local(cm("x", "10", "listed"))  # e.g. a slow GET answered with it
    assert inf.get("ns/x")["data"] == {"v": "newer despite the number"}


def test_a_deleted_object_never_comes_back_through_a_local_write():
    inf, _ = informer(cm("x", "b", "listed"))
    inf.apply_event(event("DELETED", cm("x", "a", "listed")))
    inf.update_local(cm("x", "c", "written before the delete"))
    assert inf.get("ns/x") is None
    inf.apply_event(event("ADDED", cm("x", "d", "recreated")))
    assert inf.get("ns/x")["data"] == {"v": "recreated"}


def test_a_local_version_the_watch_never_delivers_gives_way_after_the_history():
    inf, _ = informer(cm("x", "v0", "listed"))
    inf.update_local(cm("x", "lost", "local"))
    for n in range(HISTORY):
        inf.apply_event(event("MODIFIED", cm("x", f"w{n}", "watch")))
        assert inf.get("ns/x")["data"] == {"v": "local"}
    inf.apply_event(event("MODIFIED", cm("x", "w-last", "watch")))
    assert inf.get("ns/x")["metadata"]["resourceVersion"] == "w-last"


def test_relist_reports_a_change_when_the_version_text_differs():
    inf, seen = informer(cm("x", "B", "one"))
    inf._list = lambda **_: SimpleNamespace(data=json.dumps({
        "metadata": {"resourceVersion": "r"}, "items": [cm("x", "A", "two")]}).encode())
    inf._relist()
    assert seen == [("ADDED", "B"), ("MODIFIED", "A")]


def test_impossible_informer_settings_are_refused():
    with pytest.raises(ValueError, match="watch_timeout"):
        Informer("cm", lambda **_: None, lambda *_: None, watch_timeout=0)
