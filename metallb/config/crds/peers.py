"""BGPPeer (v1beta1 and v1beta2), BFDProfile and basic-auth Secret objects -> Peer and
BFDProfile, by upstream's rules (internal/config/config.go: peerFromCR, parseTimers,
passwordFromSecretForPeer, bfdProfileFromCR). A peer field we do not implement makes
the peer invalid with an error naming the field: never silently ignored."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from metallb.config import fields
from metallb.config.bfd import ECHO_MODE_REFUSED
from metallb.config.crds.common import optional_bool, optional_int, optional_string, selector_list
from metallb.config.crds.objects import Resource, spec_of
from metallb.config.issues import Issues
from metallb.config.model import DEFAULT_PEER_PORT, DYNAMIC_ASN_MODES, BfdProfile, Peer

V1BETA1_PEER_KEYS = (
    "myASN", "peerASN", "peerAddress", "sourceAddress", "peerPort", "holdTime",
    "keepaliveTime", "routerID", "nodeSelectors", "password", "bfdProfile", "ebgpMultiHop",
)
V1BETA2_PEER_KEYS = (
    *V1BETA1_PEER_KEYS, "dynamicASN", "passwordSecret", "enableGracefulRestart",
)
# v1beta2 fields we know but do not implement, and why. Their zero value (what the CRD
# defaulting writes, or an empty string) is accepted.
UNSUPPORTED_PEER_FIELDS: dict[str, tuple[object, str]] = {
    "vrf": ("", "peering from a host VRF is not implemented"),
    "interface": ("", "unnumbered BGP over an interface is not implemented"),
    "connectTime": (None, "ExaBGP has no connect-retry timer setting"),
    "disableMP": (False, "separate IPv4 and IPv6 sessions are not implemented"),
    "dualStackAddressFamily": (False, "both families on one session is not implemented"),
}
# ExaBGP (4.2) opens a session only with the peer's AS number in its config (`peer-as
# auto` is parsed, then refused as "missing peer-as"): "internal" is that number (our
# own ASN, which is all FRR's `remote-as internal` accepts), "external" (any other)
# has no such number.
EXTERNAL_ASN_UNSUPPORTED = (
    'external is not supported: ExaBGP must know the peer\'s AS number before the session '
    'opens and has no "any AS but ours" mode; give peerASN (dynamicASN: internal works)')
BASIC_AUTH = "kubernetes.io/basic-auth"
BFD_KEYS = {  # field -> (model attribute, low, high), as the CRD schema and bfdIntFromConfig
    "receiveInterval": ("receive_interval", 10, 60000),
    "transmitInterval": ("transmit_interval", 10, 60000),
    "detectMultiplier": ("detect_multiplier", 2, 255),
    "echoInterval": ("echo_interval", 10, 60000),
    "minimumTtl": ("minimum_ttl", 1, 254),
}


def parse_bfd_profiles(resources: list[Resource], issues: Issues) -> dict[str, BfdProfile]:
    profiles: dict[str, BfdProfile] = {}
    for resource in resources:
        spec = spec_of(resource, issues, (*BFD_KEYS, "echoMode", "passiveMode"))
        if spec is None:
            continue
        before = len(issues)
        base = resource.path("spec")
        values: dict[str, Any] = {
            attr: optional_int(spec, key, base, issues, low, high)
            for key, (attr, low, high) in BFD_KEYS.items()
        }
        values["echo_mode"] = optional_bool(spec, "echoMode", base, issues, False)
        if values["echo_mode"]:
            issues.add(f"{base}.echoMode", ECHO_MODE_REFUSED, True)
        values["passive_mode"] = optional_bool(spec, "passiveMode", base, issues, False)
        if len(issues) == before:
            profiles[resource.name] = BfdProfile(name=resource.name, **values)
    return profiles


def basic_auth_passwords(secrets: list[Resource]) -> dict[str, object]:
    """Secret name -> its password (str), or why it cannot be used (an Exception-free
    message, never containing the secret)."""
    out: dict[str, object] = {}
    for secret in secrets:
        out[secret.name] = _secret_password(secret.body)
    return out


class _Unusable(str):
    """Why a Secret cannot give a password (kept apart from a password string)."""


def _secret_password(body: Mapping[str, Any]) -> object:
    if body.get("type") != BASIC_AUTH:
        return _Unusable(f"must be of type {BASIC_AUTH}")
    string_data = body.get("stringData") or {}
    if isinstance(string_data, Mapping) and isinstance(string_data.get("password"), str):
        return string_data["password"]
    data = body.get("data") or {}
    raw = data.get("password") if isinstance(data, Mapping) else None
    if not isinstance(raw, str):
        return _Unusable('has no key "password" under data')
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return _Unusable('data.password is not base64 of UTF-8 text')


def parse_peers(
    resources: list[Resource],
    passwords: Mapping[str, object] | None,
    bfd_profiles: Mapping[str, BfdProfile],
    issues: Issues,
) -> tuple[Peer, ...]:
    peers: list[Peer] = []
    for resource in sorted(resources, key=lambda r: r.name):
        peer = _parse_peer(resource, passwords, bfd_profiles, issues)
        if peer is None:
            continue
        twin = next((p for p in peers if _same_session(p, peer)), None)
        if twin is not None:
            issues.add(resource.ref, f"is identical to BGPPeer/{twin.name} apart from its "
                       "name; remove one of them", peer.peer_address)
            continue
        peers.append(peer)
    return tuple(peers)


def _same_session(a: Peer, b: Peer) -> bool:
    return a == replace(b, name=a.name)


def _parse_peer(
    resource: Resource,
    passwords: Mapping[str, object] | None,
    bfd_profiles: Mapping[str, BfdProfile],
    issues: Issues,
) -> Peer | None:
    v1beta2 = resource.api_version.endswith("/v1beta2")
    allowed = V1BETA2_PEER_KEYS if v1beta2 else V1BETA1_PEER_KEYS
    spec = spec_of(resource, issues, (*allowed, *UNSUPPORTED_PEER_FIELDS))
    if spec is None:
        return None
    before = len(issues)
    base = resource.path("spec")
    for key, (zero, why) in UNSUPPORTED_PEER_FIELDS.items():
        if key in spec and spec[key] != zero:
            issues.add(f"{base}.{key}", f"is not supported: {why}; remove it", spec[key])
    kwargs: dict[str, Any] = {"name": resource.name}
    my_asn = _asn(spec, "myASN", base, issues, required=True)
    peer_asn = _asn(spec, "peerASN", base, issues, required=False)
    dynamic = optional_string(spec, "dynamicASN", base, issues)
    if dynamic is not None and dynamic not in DYNAMIC_ASN_MODES:
        issues.add(f"{base}.dynamicASN", f"must be one of {', '.join(DYNAMIC_ASN_MODES)}",
                   dynamic)
    elif dynamic == "external":
        issues.add(f"{base}.dynamicASN", EXTERNAL_ASN_UNSUPPORTED, dynamic)
    if peer_asn and dynamic:
        issues.add(f"{base}.dynamicASN", "peerASN and dynamicASN are mutually exclusive; "
                   "give one", dynamic)
    elif not dynamic and "peerASN" not in spec:
        issues.add(f"{base}.peerASN", "required field is missing (or give dynamicASN)")
    elif not dynamic and peer_asn == 0:
        issues.add(f"{base}.peerASN", "must not be 0 (or give dynamicASN instead)", 0)
    kwargs.update(my_asn=my_asn, peer_asn=peer_asn or 0, dynamic_asn=dynamic)
    if "peerAddress" not in spec or spec["peerAddress"] == "":
        issues.add(f"{base}.peerAddress", "required field is missing")
    else:
        kwargs["peer_address"] = fields.parse_ip(spec["peerAddress"], f"{base}.peerAddress",
                                                 issues)
    if spec.get("sourceAddress"):
        kwargs["source_address"] = fields.parse_ip(spec["sourceAddress"],
                                                   f"{base}.sourceAddress", issues)
    if spec.get("routerID"):
        kwargs["router_id"] = fields.parse_ipv4(spec["routerID"], f"{base}.routerID", issues)
    port = optional_int(spec, "peerPort", base, issues, 0, 16384)  # the CRD's bounds
    kwargs["peer_port"] = port or DEFAULT_PEER_PORT  # 0 is Go's "not given"
    kwargs.update(_timers(spec, base, issues))
    kwargs["node_selectors"] = selector_list(spec, "nodeSelectors", base, issues)
    kwargs["ebgp_multihop"] = optional_bool(spec, "ebgpMultiHop", base, issues, False)
    kwargs["enable_graceful_restart"] = optional_bool(spec, "enableGracefulRestart", base,
                                                      issues, False)
    if kwargs["ebgp_multihop"] and peer_asn and peer_asn == my_asn:
        issues.add(f"{base}.ebgpMultiHop", "is for eBGP peers only; this peer is iBGP "
                   "(peerASN equals myASN)", True)
    kwargs.update(_password(spec, base, passwords, issues, resource.namespace))
    bfd = optional_string(spec, "bfdProfile", base, issues)
    if bfd is not None and bfd not in bfd_profiles:
        issues.add(f"{base}.bfdProfile", "names no BFDProfile", bfd)
    kwargs["bfd_profile"] = bfd
    if len(issues) != before:
        return None
    return Peer(**kwargs)


def _asn(spec: Mapping[str, Any], key: str, base: str, issues: Issues,
         required: bool) -> int | None:
    if key not in spec:
        if required:
            issues.add(f"{base}.{key}", "required field is missing")
        return None
    # 0 is Go's zero value: for myASN "missing local ASN", for peerASN "not given".
    value = fields.parse_int(spec[key], f"{base}.{key}", issues, 0, fields.MAX_ASN)
    if value == 0 and required:
        issues.add(f"{base}.{key}", "must not be 0", 0)
    return value


def _timers(spec: Mapping[str, Any], base: str, issues: Issues) -> dict[str, float]:
    """parseTimers: one given derives the other (keepalive = hold / 3, hold = 3 x
    keepalive); hold is 0 or at least 3s; keepalive never above hold."""
    hold = keepalive = None
    if "holdTime" in spec:
        hold = _duration(spec["holdTime"], f"{base}.holdTime", issues, fields.parse_hold_time)
        if hold is None:
            return {}
    if "keepaliveTime" in spec:
        keepalive = _duration(spec["keepaliveTime"], f"{base}.keepaliveTime", issues,
                              fields.parse_timer)
        if keepalive is None:
            return {}
    if hold is None and keepalive is None:
        return {}
    if hold is None:
        # From the duration as written (upstream rounds only the hold time it derives).
        raw = fields.parse_duration(spec["keepaliveTime"], "", Issues()) or 0.0
        hold = float(math.floor(raw * 3))
        if (hold != 0 and hold < 3) or hold > fields.MAX_HOLD_TIME:
            issues.add(f"{base}.keepaliveTime", "gives a hold time (3 x keepaliveTime) "
                       "that is neither 0 nor between 3s and 65535s", spec["keepaliveTime"])
            return {}
    if keepalive is not None and keepalive > hold:
        issues.add(f"{base}.keepaliveTime",
                   f"must not exceed holdTime ({fields.format_duration(hold)})",
                   spec["keepaliveTime"])
        return {}
    out = {"hold_time": hold}
    if keepalive is not None:
        out["keepalive_time"] = keepalive
    return out


def _duration(value: object, path: str, issues: Issues, parse: Any) -> float | None:
    if not isinstance(value, str):  # metav1.Duration is a string in JSON
        issues.add(path, 'must be a duration string like "90s" or "1m30s"', value)
        return None
    return parse(value, path, issues)


def _password(spec: Mapping[str, Any], base: str, passwords: Mapping[str, object] | None,
              issues: Issues, namespace: str | None) -> dict[str, Any]:
    """`password`, or the one of the Secret `passwordSecret` names (passwords None: the
    Secrets are not read, the reference is kept)."""
    password = spec.get("password") or None
    ref = spec.get("passwordSecret") or None
    if password is not None:
        password = fields.parse_password(password, f"{base}.password", issues)
    if ref is None:
        return {"password": password}
    path = f"{base}.passwordSecret"
    ref = issues.struct(ref, path)
    if ref is None:
        return {}
    issues.unknown_keys(ref, ("name", "namespace"), path)
    name = ref.get("name") or None
    if name is None:
        return {"password": password}  # an empty reference is Go's zero value
    if password is not None:
        issues.add(path, "password and passwordSecret are mutually exclusive; give one")
        return {}
    ref_namespace = ref.get("namespace") or None
    if ref_namespace is not None and namespace is not None and ref_namespace != namespace:
        issues.add(f"{path}.namespace", "the Secret must be in the MetalLB namespace, "
                   f"{namespace}", ref_namespace)
        return {}
    if passwords is None:
        return {"password_secret": name}
    found = passwords.get(name)
    if found is None:
        issues.add(f"{path}.name", "names no Secret in the MetalLB namespace", name)
        return {}
    if isinstance(found, _Unusable):
        issues.add(f"{path}.name", f"Secret {name} {found}", name)
        return {}
    return {"password": found, "password_secret": name}

