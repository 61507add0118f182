"""The emulator's verb table: HTTP method and URL shape -> API verb, 405 off the table."""

from __future__ import annotations

import pytest

from lab.apiserver.errors import ApiError
from lab.apiserver.verbs import verb_for


@pytest.mark.parametrize(("method", "name", "query", "verb"), [
    ("GET", "web", {}, "get"),
    ("GET", "web", {"watch": "true"}, "get"),  # a named GET is a get, watch or not
    ("GET", "", {}, "list"),
    ("GET", "", {"watch": "1"}, "watch"),
    ("GET", "", {"watch": "false"}, "list"),
    ("POST", "", {}, "create"),
    ("PUT", "web", {}, "update"),
    ("PATCH", "web", {}, "patch"),
    ("DELETE", "web", {}, "delete"),
    ("DELETE", "", {}, "deletecollection"),
])
def test_method_and_shape_give_the_verb(method, name, query, verb):
    assert verb_for(method, name, query) == verb


@pytest.mark.parametrize(("method", "name"), [("POST", "web"), ("HEAD", ""), ("OPTIONS", "x")])
def test_a_pair_off_the_table_is_method_not_allowed(method, name):
    with pytest.raises(ApiError) as raised:
        verb_for(method, name, {})
    assert raised.value.code == 405
