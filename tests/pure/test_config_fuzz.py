"""Fuzz: whatever the document or text, the parser returns a Config or raises ConfigError.
Any other exception would be a traceback in `metallb config check` or a crashed daemon."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metallb.config import ConfigError, parse_config, parse_config_text
from metallb.config.model import AUTODISCOVERY_FIELDS
from metallb.config.parse import peer_from_fields

KEYS = [
    "peers",
    "address-pools",
    "bgp-communities",
    "peer-autodiscovery",
    "name",
    "protocol",
    "addresses",
    "auto-assign",
    "avoid-buggy-ips",
    "bgp-advertisements",
    "aggregation-length",
    "aggregation-length-v6",
    "localpref",
    "communities",
    "peer-address",
    "peer-asn",
    "my-asn",
    "peer-port",
    "hold-time",
    "keepalive-time",
    "router-id",
    "source-address",
    "password",
    "node-selectors",
    "match-labels",
    "match-expressions",
    "key",
    "operator",
    "values",
    "from-annotations",
    "from-labels",
    "defaults",
    "kind",
    "data",
    "config",
    "apiVersion",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "bgp",
            "layer2",
            "192.0.2.0/24",
            "192.0.2.1-192.0.2.9",
            "2001:db8::/64",
            "90s",
            "1m30s",
            "In",
            "Exists",
            "65000",
            "10.0.0.1",
            "1:2",
            "ConfigMap",
            "192.0.2.5/32",
            " - ",
            "::1-1.2.3.4",
            "0",
            "-1s",
            ".5h",
            "1e9h",
        ]
    ),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.integers(), st.none()), children, max_size=5
        ),
    ),
    max_leaves=25,
)


def _check(callable_, *args):
    try:
        callable_(*args)
    except ConfigError as exc:
        assert exc.issues, "a ConfigError always carries at least one issue"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_documents_only_raise_config_error(document):
    _check(parse_config, document)
    _check(parse_config, {"address-pools": [document]})
    _check(parse_config, {"peers": [document]})
    _check(parse_config, {"peer-autodiscovery": document})


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_yaml_round_trip_only_raises_config_error(document):
    text = yaml.safe_dump(document)
    _check(parse_config_text, text)
    _check(
        parse_config_text,
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  config: |\n"
        + "".join(f"    {line}\n" for line in text.splitlines()),
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_only_raises_config_error(text):
    _check(parse_config_text, text)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*AUTODISCOVERY_FIELDS, "x"]),
        st.one_of(st.text(max_size=10), SCALARS),
        max_size=8,
    )
)
def test_peer_from_fields_never_raises(fields):
    peer, issues = peer_from_fields(fields, "node")
    assert (peer is None) == bool(issues)
