"""Reading the commands' input files: a path, a directory (its YAML files), or "-" for
stdin.

The config parser (`metallb.config`) only ever sees text; this is the one place where
`metallb config check` and `metallb plan` touch the file system or stdin, and where a
file that cannot be used becomes one printable message instead of a traceback.
"""

from __future__ import annotations

import os
import sys

from metallb.config.any_format import parse_config_texts
from metallb.config.model import Config

STDIN = "-"
YAML_SUFFIXES = (".yaml", ".yml", ".json")


class Unreadable(Exception):
    """An input that cannot be used at all (missing, a directory, not UTF-8); the message
    names the input and is printed as is."""


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def read_text(path: str) -> str:
    """The UTF-8 text of a file ("-" reads stdin)."""
    name = display_name(path)
    try:
        if path == STDIN:
            raw = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
    except OSError as exc:
        raise Unreadable(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"{name}: is not UTF-8 text (byte {exc.start})") from None


def read_texts(path: str) -> list[tuple[str, str]]:
    """(name, text) of the file, or of every YAML/JSON file of a directory in name order
    (not recursive, as `kubectl apply -f DIR`)."""
    if path != STDIN and os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.endswith(YAML_SUFFIXES))
        if not names:
            raise Unreadable(f"{path}: holds no .yaml, .yml or .json file")
        return [(os.path.join(path, n), read_text(os.path.join(path, n))) for n in names]
    return [(display_name(path), read_text(path))]


def read_config(path: str) -> Config:
    """Read and parse a config in either format (metallb.io objects or the legacy
    config); Unreadable, ConfigSyntaxError or ConfigError when it cannot be used (the
    source in errors is the display name)."""
    return parse_config_texts(read_texts(path), display_name(path))
