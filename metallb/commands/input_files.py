"""Reading the commands' input files: a path, or "-" for stdin.

The config parser (`metallb.config`) only ever sees text; this is the one place where
`metallb config check` and `metallb plan` touch the file system or stdin, and where a
file that cannot be used becomes one printable message instead of a traceback.
"""

from __future__ import annotations

import sys

from metallb.config.model import Config
from metallb.config.parse import parse_config_text

STDIN = "-"


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


def read_config(path: str) -> Config:
    """Read and parse a config file; Unreadable, ConfigSyntaxError or ConfigError when
    it cannot be used (the source in errors is the display name)."""
    return parse_config_text(read_text(path), display_name(path))
