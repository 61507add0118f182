"""The one error type of the lab commands: a message for the user, never a traceback."""

from __future__ import annotations


class LabError(Exception):
    """Something the user can act on: says what failed and what to do (exit status 1)."""
