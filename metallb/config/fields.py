"""Scalar field validators shared by every part of the config (and by autodiscovery).

Each takes (value, path, issues) and returns the normalised value or None after recording
an issue. `from_text=True` is for values read from node annotations/labels, which are
always strings: there "65000" is a fine ASN, while in the YAML file it is a type error
(MetalLB's Go parser rejects it, and a quoted number usually hides a typo).
"""

from __future__ import annotations

import ipaddress
import math
import re

from metallb.config.issues import Issues, type_name

MAX_ASN = 2**32 - 1
MAX_UINT32 = 2**32 - 1
MAX_HOLD_TIME = 65535.0  # BGP OPEN carries the hold time as 16-bit seconds

_DIGITS = re.compile(r"[0-9]+")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_bool(value: object, path: str, issues: Issues, *, from_text: bool = False) -> bool | None:
    if isinstance(value, bool):
        return value
    issues.add(path, f"must be a boolean (true or false), not {type_name(value)}", value)
    return None


def parse_int(
    value: object, path: str, issues: Issues, low: int, high: int, *, from_text: bool = False
) -> int | None:
    """An integer in [low, high]. Booleans are not integers here, nor are quoted numbers
    in the YAML file (`"65000"` names its type in the error so the fix is obvious)."""
    if from_text and isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        quoted = isinstance(value, str) and _DIGITS.fullmatch(value.strip())
        hint = " (remove the quotes)" if quoted else ""
        issues.add(path, f"must be an integer, not {type_name(value)}{hint}", value)
        return None
    if not low <= value <= high:
        issues.add(path, f"must be between {low} and {high}", value)
        return None
    return value


def parse_asn(value: object, path: str, issues: Issues, *, from_text: bool = False) -> int | None:
    return parse_int(value, path, issues, 1, MAX_ASN, from_text=from_text)


def parse_port(value: object, path: str, issues: Issues, *, from_text: bool = False) -> int | None:
    return parse_int(value, path, issues, 1, 65535, from_text=from_text)


def parse_string(value: object, path: str, issues: Issues, *, secret: bool = False) -> str | None:
    """A non-empty string; with secret=True the value never appears in the issue."""
    if not isinstance(value, str):
        issues.add(path, f"must be a string, not {type_name(value)}", None if secret else value)
        return None
    if not value:
        issues.add(path, "must not be empty")
        return None
    return value


def parse_name(value: object, path: str, issues: Issues, *, from_text: bool = False) -> str | None:
    """A reference to another config entry by name (e.g. a peer's `bfd-profile`)."""
    return parse_string(value, path, issues)


def parse_password(
    value: object, path: str, issues: Issues, *, from_text: bool = False
) -> str | None:
    return parse_string(value, path, issues, secret=True)


def parse_ip(
    value: object, path: str, issues: Issues, *, version: int | None = None, from_text: bool = False
) -> str | None:
    """An IP address (of `version` if given), returned in canonical text form."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str):
        issues.add(path, f"must be an IP address string, not {type_name(value)}", value)
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        want = f"an IPv{version} address" if version else "an IP address"
        issues.add(path, f"is not {want}", value)
        return None
    if version is not None and address.version != version:
        issues.add(path, f"must be an IPv{version} address", value)
        return None
    return str(address)


def parse_ipv4(value: object, path: str, issues: Issues, *, from_text: bool = False) -> str | None:
    return parse_ip(value, path, issues, version=4)


def parse_duration(
    value: object, path: str, issues: Issues, *, from_text: bool = False
) -> float | None:
    """Seconds from a Go-style duration ("90s", "1m30s", "1.5s") or a bare integer of
    seconds (YAML int; in annotation text also "90")."""
    seconds: float | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        bare_seconds = from_text and _DIGITS.fullmatch(text)
        seconds = float(int(text)) if bare_seconds else _go_duration(text)
        if seconds is None:
            issues.add(path, 'is not a duration; write e.g. "90s", "1m30s" or 90', value)
            return None
    else:
        issues.add(
            path,
            f'must be a duration like "90s" or an integer of seconds, not {type_name(value)}',
            value,
        )
        return None
    if seconds < 0 or math.isinf(seconds):
        issues.add(path, "must not be negative", value)
        return None
    return seconds


def parse_timer(
    value: object, path: str, issues: Issues, *, from_text: bool = False
) -> float | None:
    """A BGP timer: a duration cut to whole seconds, as MetalLB does (and as BGP carries
    it), with a warning when that drops a fraction."""
    seconds = parse_duration(value, path, issues, from_text=from_text)
    if seconds is None:
        return None
    whole = float(math.floor(seconds))
    if whole != seconds:
        issues.warn(
            path, f"is cut to whole seconds, as in MetalLB: {format_duration(whole)}", value
        )
    return whole


def parse_hold_time(
    value: object, path: str, issues: Issues, *, from_text: bool = False
) -> float | None:
    seconds = parse_timer(value, path, issues, from_text=from_text)
    if seconds is None:
        return None
    if seconds != 0 and seconds < 3:
        issues.add(path, "must be 0 (no keepalives) or at least 3s (BGP rule)", value)
        return None
    if seconds > MAX_HOLD_TIME:
        issues.add(path, f"must be at most {int(MAX_HOLD_TIME)}s (BGP limit)", value)
        return None
    return seconds


def _go_duration(text: str) -> float | None:
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return total if pos else None


def format_duration(seconds: float) -> str:
    """Inverse of parse_duration for messages and summaries: 90.0 -> "90s"."""
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds:g}s"


def parse_community(value: object, path: str, issues: Issues) -> str | None:
    """A literal BGP community "A:B" (each half 0..65535), normalised ("065000:1" -> "65000:1")."""
    if not isinstance(value, str):
        issues.add(path, f'must be a community string "A:B", not {type_name(value)}', value)
        return None
    parts = value.strip().split(":")
    if len(parts) != 2 or not all(_DIGITS.fullmatch(p) for p in parts):
        issues.add(path, 'is not a BGP community; write "A:B" with A and B from 0 to 65535', value)
        return None
    high, low = (int(p) for p in parts)
    if high > 65535 or low > 65535:
        issues.add(path, "community halves must be between 0 and 65535", value)
        return None
    return f"{high}:{low}"
