"""The emulator's pure pieces (no HTTP): selector grammar and patch algorithms, with
the RFC 7386 examples and the strategic-merge directives kubectl sends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.apiserver.patch import (
    PatchError,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
)
from lab.apiserver.selection import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)


@pytest.mark.parametrize(("target", "patch", "result"), [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_json_merge_patch_rfc7386_examples(target, patch, result):
    assert json_merge_patch(target, patch) == result


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=10)


@given(st.dictionaries(st.text(max_size=3), json_values, max_size=4),
       st.dictionaries(st.text(max_size=3), json_values, max_size=4))
def test_merge_patch_is_idempotent_and_leaves_input_alone(target, patch):
    before = repr(target)
    once = json_merge_patch(target, patch)
    assert json_merge_patch(once, patch) == once
    assert repr(target) == before


def test_json_patch_errors_name_the_problem():
    with pytest.raises(PatchError, match="does not exist"):
        json_patch({"a": {}}, [{"op": "remove", "path": "/a/b"}])
    with pytest.raises(PatchError, match="out of range"):
        json_patch({"a": []}, [{"op": "add", "path": "/a/3", "value": 1}])
    with pytest.raises(PatchError, match="unknown op"):
        json_patch({}, [{"op": "frobnicate", "path": "/a"}])
    assert json_patch({"a/b": {"~": 1}}, [{"op": "replace", "path": "/a~1b/~0",
                                            "value": 2}]) == {"a/b": {"~": 2}}


def test_strategic_merge_directives_kubectl_sends():
    live = {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}},
        "metadata": {"finalizers": ["x", "y", "z"]}}
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "b", "image": "2"}]}}},
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["y"]}}
    merged = strategic_merge_patch("Deployment", live, patch)
    assert merged["spec"]["template"]["spec"]["containers"] == [
        {"name": "b", "image": "2"}, {"name": "a", "image": "1"}]
    assert merged["metadata"]["finalizers"] == ["x", "z"]
    replaced = strategic_merge_patch("Deployment", live, {"spec": {"template": {"spec": {
        "containers": [{"$patch": "replace"}, {"name": "c", "image": "3"}]}}}})
    assert replaced["spec"]["template"]["spec"]["containers"] == [{"name": "c", "image": "3"}]
    retained = strategic_merge_patch("Deployment", {"spec": {"strategy": {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}, {"spec": {"strategy": {
            "$retainKeys": ["type"], "type": "Recreate"}}})
    assert retained["spec"]["strategy"] == {"type": "Recreate"}


def test_strategic_merge_list_element_without_key_is_an_error():
    with pytest.raises(PatchError, match="lacks merge key 'name'"):
        strategic_merge_patch("Deployment", {"spec": {"containers": []}},
                              {"spec": {"containers": [{"image": "x"}]}})


@pytest.mark.parametrize("text", ["a in (b", "a)", "Bad Key=1", "a=b,,c=d"])
def test_bad_label_selectors(text):
    with pytest.raises(SelectorError):
        parse_label_selector(text)


def test_selector_parsing():
    sel = parse_label_selector("app in (a, b),!skip,tier!=db,env")
    assert sel.matches({"app": "a", "env": "x"})
    assert not sel.matches({"app": "a", "env": "x", "skip": ""})
    assert not sel.matches({"app": "c", "env": "x"})
    assert not sel.matches({"app": "a"})
    fields = parse_field_selector("spec.unschedulable=false,metadata.name!=n2")
    assert fields.matches({"metadata": {"name": "n1"}, "spec": {"unschedulable": False}})
    assert fields.matches({"metadata": {"name": "n1"}, "spec": {}})  # absent bool is false
    assert not fields.matches({"metadata": {"name": "n2"}, "spec": {}})
    with pytest.raises(SelectorError):
        parse_field_selector("nonsense")
