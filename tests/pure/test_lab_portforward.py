"""lab/portforward.py's endpoint syntax: [NETNS/]HOST:PORT."""

from __future__ import annotations

import argparse

import pytest

from lab.portforward import Endpoint


@pytest.mark.parametrize(("text", "endpoint"), [
    ("127.0.0.1:6443", Endpoint(None, "127.0.0.1", 6443)),
    ("mlabn0/127.0.0.1:0", Endpoint("mlabn0", "127.0.0.1", 0)),
    ("mlabn1/192.0.2.12:7472", Endpoint("mlabn1", "192.0.2.12", 7472)),
])
def test_an_endpoint_names_its_namespace_only_when_it_is_not_this_one(text, endpoint):
    assert Endpoint.parse(text) == endpoint


@pytest.mark.parametrize("text", ["127.0.0.1", "ns/:80", "ns/host:http", ":80"])
def test_a_malformed_endpoint_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        Endpoint.parse(text)
