"""`peers[]` and autodiscovered peers: one set of per-field rules for both.

The speaker builds per-node peers from annotations/labels with `peer_from_fields`; the
config file's `peers[]` go through the same field table, so a value accepted in one place
is accepted in the other (only the string-vs-integer rule differs, see fields.py).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace

from metallb.config import fields
from metallb.config.errors import ConfigIssue
from metallb.config.issues import Issues, index_path, key_path
from metallb.config.model import AUTODISCOVERY_FIELDS, DEFAULT_HOLD_TIME, Peer
from metallb.config.selectors import parse_node_selectors

FieldParser = Callable[..., object]

# Config spelling -> (validator, Peer attribute). Validators take (value, path, issues,
# from_text=bool).
PEER_FIELDS: dict[str, tuple[FieldParser, str]] = {
    "peer-address": (fields.parse_ip, "peer_address"),
    "peer-asn": (fields.parse_asn, "peer_asn"),
    "my-asn": (fields.parse_asn, "my_asn"),
    "peer-port": (fields.parse_port, "peer_port"),
    "hold-time": (fields.parse_hold_time, "hold_time"),
    "keepalive-time": (fields.parse_timer, "keepalive_time"),
    "router-id": (fields.parse_ipv4, "router_id"),
    "source-address": (fields.parse_ip, "source_address"),
    "password": (fields.parse_password, "password"),
    "ebgp-multihop": (fields.parse_bool, "ebgp_multihop"),
    "bfd-profile": (fields.parse_name, "bfd_profile"),
}
REQUIRED_PEER_FIELDS = ("peer-address", "peer-asn", "my-asn")
# MetalLB's Go decoder gives these fields their zero value when written empty, and reads
# the zero value as "not given": `password: ""` is no password, `peer-port: 0` is 179.
GO_ZERO_MEANS_DEFAULT: dict[str, object] = {
    "peer-port": 0,
    "hold-time": "",
    "keepalive-time": "",
    "router-id": "",
    "source-address": "",
    "password": "",
    "bfd-profile": "",
}
PEER_KEYS = (*PEER_FIELDS, "node-selectors")


def decode_base64_password(value: object, path: str, issues: Issues) -> str | None:
    """`password-base64` (the Packet CCM's `bgp-pass` annotation) -> the password; an
    issue (never showing the value) when it is not base64 of UTF-8 text."""
    try:
        text = base64.b64decode(str(value).strip(), validate=True).decode()
    except (binascii.Error, ValueError):
        issues.add(path, "is not base64-encoded text (the Equinix Metal cloud provider "
                   "writes the BGP password base64-encoded)")
        return None
    return fields.parse_password(text, path, issues)


def parse_peer_field(
    name: str, value: object, path: str, issues: Issues, *, from_text: bool = False
) -> object:
    """Validate one peer field by its config name; None (and an issue) when invalid."""
    if name == "password-base64":
        return decode_base64_password(value, path, issues)
    validator, _attr = PEER_FIELDS[name]
    return validator(value, path, issues, from_text=from_text)


def _build_peer(
    raw: Mapping, path: str, issues: Issues, *, from_text: bool, extra_keys: tuple[str, ...] = ()
) -> Peer | None:
    before = len(issues)
    kwargs: dict[str, object] = {}
    # Node annotations are not MetalLB's file format: an empty one stays an error there.
    zeros = [] if from_text else [name for name, value in raw.items() if _is_go_zero(name, value)]
    for name in zeros:
        issues.warn(
            key_path(path, name),
            "reads as not given, as in MetalLB, so the default applies; "
            "remove it or give a value",
            raw[name],
        )
    raw = {k: v for k, v in raw.items() if k not in zeros}
    for name, (_validator, attr) in PEER_FIELDS.items():
        if name in raw:
            value = parse_peer_field(
                name, raw[name], key_path(path, name), issues, from_text=from_text
            )
            if value is not None:
                kwargs[attr] = value
        elif name in REQUIRED_PEER_FIELDS:
            issues.add(key_path(path, name), "required key is missing")
    hold_valid = "hold-time" not in raw or "hold_time" in kwargs  # else already reported
    if "keepalive_time" in kwargs and hold_valid:
        hold = kwargs.get("hold_time", DEFAULT_HOLD_TIME)
        if kwargs["keepalive_time"] > hold:  # type: ignore[operator]
            issues.add(
                key_path(path, "keepalive-time"),
                f"must not exceed hold-time ({fields.format_duration(hold)})",
                raw["keepalive-time"],
            )
    if kwargs.get("ebgp_multihop") and kwargs.get("peer_asn") == kwargs.get("my_asn"):
        issues.add(
            key_path(path, "ebgp-multihop"),
            "is for eBGP peers only; this peer is iBGP (peer-asn equals my-asn)",
            True,
        )
    if len(issues) != before:
        return None
    return Peer(**kwargs)  # type: ignore[arg-type]


def _is_go_zero(name: str, value: object) -> bool:
    if name not in GO_ZERO_MEANS_DEFAULT or isinstance(value, bool):
        return False
    zero = GO_ZERO_MEANS_DEFAULT[name]
    return type(value) is type(zero) and value == zero


def peer_from_fields(
    fields_: Mapping[str, object], path: str
) -> tuple[Peer | None, list[ConfigIssue]]:
    """One Peer from autodiscovery fields (AUTODISCOVERY_FIELDS keys, values as found on
    the node, usually strings like "65000" or "90s"). Returns (peer, []) or (None, issues);
    never raises for bad values. Unknown field names are reported as issues too."""
    issues = Issues()
    if not isinstance(fields_, Mapping):
        issues.add(path, "must be a mapping of peer fields")
        return None, issues.items
    issues.unknown_keys(fields_, AUTODISCOVERY_FIELDS, path)
    known = {k: v for k, v in fields_.items() if k in AUTODISCOVERY_FIELDS}
    if "password-base64" in known:
        encoded = known.pop("password-base64")
        password = decode_base64_password(encoded, key_path(path, "password-base64"), issues)
        if password is not None:
            known.setdefault("password", password)
    peer = _build_peer(known, path, issues, from_text=True)
    return (peer if not issues.items else None), issues.items


def peers_from_fields(
    fields_: Mapping[str, object], path: str
) -> tuple[tuple[Peer, ...], list[ConfigIssue]]:
    """Like peer_from_fields, but `peer-address` may be a comma-separated list (Packet's
    `metal.equinix.com/peer-ip`): one peer per address, all other fields shared."""
    raw_addresses = fields_.get("peer-address") if isinstance(fields_, Mapping) else None
    if not isinstance(raw_addresses, str) or "," not in raw_addresses:
        peer, issues = peer_from_fields(fields_, path)
        return ((peer,) if peer else ()), issues
    peers: list[Peer] = []
    all_issues: list[ConfigIssue] = []
    for address in raw_addresses.split(","):
        peer, issues = peer_from_fields({**fields_, "peer-address": address.strip()}, path)
        all_issues.extend(i for i in issues if i not in all_issues)
        if peer is not None and peer not in peers:
            peers.append(peer)
    return (tuple(peers) if not all_issues else ()), all_issues


def parse_peers(
    value: object, path: str, issues: Issues, bfd_profiles: Collection[str] = ()
) -> tuple[Peer, ...]:
    """`peers[]`; a peer's `bfd-profile` must name one of `bfd_profiles`."""
    entries = issues.sequence(value, path)
    if entries is None:
        return ()
    peers: list[tuple[str, Peer]] = []
    for i, raw in enumerate(entries):
        peer_path = index_path(path, i)
        mapping = issues.struct(raw, peer_path)
        if mapping is None:
            continue
        issues.unknown_keys(mapping, PEER_KEYS, peer_path)
        before = len(issues)
        selectors = ()
        if "node-selectors" in mapping:
            selectors = parse_node_selectors(
                mapping["node-selectors"], f"{peer_path}.node-selectors", issues
            )
        peer = _build_peer(mapping, peer_path, issues, from_text=False)
        if peer is None or len(issues) != before:
            continue
        peer = replace(peer, node_selectors=selectors)
        if peer.bfd_profile is not None and peer.bfd_profile not in bfd_profiles:
            issues.add(f"{peer_path}.bfd-profile", "names no entry of bfd-profiles",
                       peer.bfd_profile)
            continue
        duplicate = next((p for p, other in peers if other == peer), None)
        if duplicate is not None:
            issues.add(
                peer_path, f"is identical to {duplicate}; remove one of them", peer.peer_address
            )
            continue
        peers.append((peer_path, peer))
    return tuple(p for _path, p in peers)
