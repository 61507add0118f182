"""Validation errors that say where (a path like `address-pools[1].addresses[0]`), what,
and the offending value, so the user can fix the file without guessing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConfigIssue:
    path: str  # e.g. "address-pools[1].addresses[0]"; "" for the whole document
    message: str  # what is wrong, e.g. "overlaps address-pools[0].addresses[0]"
    value: Any = None  # the offending value, as written (never a password)

    def __str__(self) -> str:
        where = self.path or "config"
        if self.value is None:
            return f"{where}: {self.message}"
        return f"{where}: {self.message} (value: {self.value!r})"


class ConfigError(ValueError):
    """Raised with every issue found, not only the first."""

    def __init__(self, issues: list[ConfigIssue], source: str | None = None):
        self.issues = list(issues)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(str(i) for i in self.issues))


class ConfigSyntaxError(ConfigError):
    """The text is not readable YAML (or not text at all): nothing was validated yet.

    A subclass so callers that only care about "bad config" catch ConfigError, while
    `metallb config check` can tell unreadable (exit 2) from invalid (exit 1)."""
