"""Helpers shared by the config parser's table tests: parse YAML text, collect errors."""

from __future__ import annotations

import textwrap

import pytest

from metallb.config import ConfigError, parse_config_text
from metallb.config.model import Config


def parse(text: str) -> Config:
    return parse_config_text(textwrap.dedent(text), "test.yaml")


def issues_of(text: str) -> list[str]:
    """Every error of a config that must be invalid, as printed."""
    with pytest.raises(ConfigError) as info:
        parse(text)
    return [str(issue) for issue in info.value.issues]


def single_pool(addresses: str = "[198.51.100.0/24]", extra: str = "") -> str:
    """A config with one bgp pool `p`; `extra` continues its flow mapping (", key: v")."""
    return f"address-pools:\n- {{name: p, protocol: bgp, addresses: {addresses}{extra}}}\n"
