"""`bfd-profiles[]` of the legacy config (MetalLB v0.12 `parseBFDProfile`).

Ranges are upstream's (internal/config/config.go, and the BFDProfile CRD's kubebuilder
markers): intervals 10-60000 ms, detect multiplier 2-255, minimum TTL 1-254. A field
left out stays None (FRR's default applies; see model.BfdProfile). Echo mode is refused:
our BFD engine speaks asynchronous mode only, and accepting it silently would promise a
faster detection than the node gets.
"""

from __future__ import annotations

from metallb.config import fields
from metallb.config.issues import Issues, index_path, key_path
from metallb.config.model import BfdProfile

# Config spelling -> (BfdProfile attribute, low, high) for the integer fields.
BFD_INT_FIELDS: dict[str, tuple[str, int, int]] = {
    "receive-interval": ("receive_interval", 10, 60000),
    "transmit-interval": ("transmit_interval", 10, 60000),
    "detect-multiplier": ("detect_multiplier", 2, 255),
    "echo-interval": ("echo_interval", 10, 60000),
    "minimum-ttl": ("minimum_ttl", 1, 254),
}
BFD_BOOL_FIELDS = {"echo-mode": "echo_mode", "passive-mode": "passive_mode"}
BFD_PROFILE_KEYS = ("name", *BFD_INT_FIELDS, *BFD_BOOL_FIELDS)
ECHO_MODE_REFUSED = (
    "echo mode is not implemented (the BFD engine runs asynchronous mode only); "
    "remove echo-mode or set it to false"
)


def parse_bfd_profiles(value: object, path: str, issues: Issues) -> tuple[BfdProfile, ...]:
    """Every valid profile, in order; duplicates and invalid entries recorded in `issues`."""
    entries = issues.sequence(value, path)
    if entries is None:
        return ()
    profiles: dict[str, tuple[str, BfdProfile]] = {}
    for i, raw in enumerate(entries):
        entry_path = index_path(path, i)
        profile = _parse_profile(raw, entry_path, issues)
        if profile is None:
            continue
        if profile.name in profiles:
            first_path = profiles[profile.name][0]
            issues.add(key_path(entry_path, "name"),
                       f"duplicate bfd profile name (first at {first_path})", profile.name)
            continue
        profiles[profile.name] = (entry_path, profile)
    return tuple(p for _path, p in profiles.values())


def _parse_profile(raw: object, path: str, issues: Issues) -> BfdProfile | None:
    mapping = issues.struct(raw, path)
    if mapping is None:
        return None
    before = len(issues)
    issues.unknown_keys(mapping, BFD_PROFILE_KEYS, path)
    name = mapping.get("name")
    if name is None or name == "":  # Go's zero value: upstream says "missing bfd profile name"
        issues.add(key_path(path, "name"), "required key is missing")
    else:
        name = fields.parse_string(name, key_path(path, "name"), issues)
    kwargs: dict[str, object] = {}
    for key, (attr, low, high) in BFD_INT_FIELDS.items():
        if key in mapping:
            kwargs[attr] = fields.parse_int(mapping[key], key_path(path, key), issues, low, high)
    for key, attr in BFD_BOOL_FIELDS.items():
        if key in mapping:
            kwargs[attr] = fields.parse_bool(mapping[key], key_path(path, key), issues)
    if kwargs.get("echo_mode"):
        issues.add(key_path(path, "echo-mode"), ECHO_MODE_REFUSED, True)
    if len(issues) != before:
        return None
    return BfdProfile(name=name, **kwargs)  # type: ignore[arg-type]
