"""The `component "metallb"` block, checked and typed: every attribute of the Lokomotive
reference plus a few optional ones (images, static BGP peers, log level).

Pure: takes the evaluated block body (see metallb.component.hcl) and returns frozen
settings, or raises ConfigError naming the attribute and the value. Address pools and
peers are checked by the same parser as `metallb config check`, on the legacy config
document this component deploys, so the two can never disagree; with
`config_format = "crds"` that document is converted to metallb.io objects by
`metallb config convert`'s code, which refuses what the objects cannot express.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from metallb import __version__
from metallb.config.bfd import BFD_BOOL_FIELDS, BFD_INT_FIELDS
from metallb.config.crds.convert import convert_config
from metallb.config.errors import ConfigError, ConfigIssue
from metallb.config.parse import parse_config
from metallb.logs import LOG_LEVELS

DEFAULT_IMAGE = f"ghcr.io/metallb-py/metallb:{__version__}"
TOLERATION_OPERATORS = ("Equal", "Exists")
CONFIG_FORMATS = ("crds", "configmap")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

# Equinix Metal (Packet) writes the BGP parameters of each node into these annotations;
# the speaker turns them into one peer per node (docs/rules.md, rules C18 and D5): the
# older single keys (`peer-ip` may list both routers) and, since the cloud provider's
# v3.3, the numbered keys, one set per router; the password base64-encoded in both.
PACKET_AUTODISCOVERY = {
    "from-annotations": [
        {
            "my-asn": f"metal.equinix.com/{numbered}node-asn",
            "peer-asn": f"metal.equinix.com/{numbered}peer-asn",
            "peer-address": f"metal.equinix.com/{numbered}peer-ip",
            "source-address": f"metal.equinix.com/{numbered}src-ip",
            "password-base64": f"metal.equinix.com/{numbered}bgp-pass",
        }
        for numbered in ("", "bgp-peers-{N}-")
    ]
}


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""
    toleration_seconds: int | None = None

    def to_kubernetes(self) -> dict[str, Any]:
        """The pod-spec form; empty fields are left out, as kubectl would show them."""
        out: dict[str, Any] = {}
        if self.key:
            out["key"] = self.key
        out["operator"] = self.operator
        if self.value:
            out["value"] = self.value
        if self.effect:
            out["effect"] = self.effect
        if self.toleration_seconds is not None:
            out["tolerationSeconds"] = self.toleration_seconds
        return out


@dataclass(frozen=True)
class StaticPeer:
    """A `peer { ... }` block: a BGP router for clusters that are not on Packet."""

    peer_address: str
    peer_asn: int
    my_asn: int
    peer_port: int | None = None
    hold_time: str | None = None
    router_id: str | None = None
    source_address: str | None = None
    password: str | None = None
    node_selectors: tuple[tuple[str, str], ...] = ()
    bfd_profile: str | None = None  # a bfd_profile "NAME" block, checked to exist

    def to_legacy(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "peer-address": self.peer_address,
            "peer-asn": self.peer_asn,
            "my-asn": self.my_asn,
        }
        optional = {
            "peer-port": self.peer_port,
            "hold-time": self.hold_time,
            "router-id": self.router_id,
            "source-address": self.source_address,
            "password": self.password,
            "bfd-profile": self.bfd_profile,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.node_selectors:
            out["node-selectors"] = [{"match-labels": dict(self.node_selectors)}]
        return out


# bfd_profile block attribute -> the legacy bfd-profiles[] key (upstream's, in snake case)
BFD_PROFILE_FIELDS = {key.replace("-", "_"): key for key in (*BFD_INT_FIELDS, *BFD_BOOL_FIELDS)}


@dataclass(frozen=True)
class BfdProfileBlock:
    """A `bfd_profile "NAME" { ... }` block: BFD timers a peer names with `bfd_profile`.
    Only the attributes given are kept; ranges are checked by the config parser."""

    name: str
    values: tuple[tuple[str, int | bool], ...] = ()  # (HCL attribute, value) given

    def to_legacy(self) -> dict[str, Any]:
        return {"name": self.name,
                **{BFD_PROFILE_FIELDS[attr]: value for attr, value in self.values}}


@dataclass(frozen=True)
class ComponentSettings:
    address_pools: tuple[tuple[str, tuple[str, ...]], ...]  # sorted by pool name
    controller_node_selectors: tuple[tuple[str, str], ...] = ()
    speaker_node_selectors: tuple[tuple[str, str], ...] = ()
    controller_tolerations: tuple[Toleration, ...] = ()
    speaker_tolerations: tuple[Toleration, ...] = ()
    service_monitor: bool = False
    controller_image: str = DEFAULT_IMAGE
    speaker_image: str = DEFAULT_IMAGE
    log_level: str = "info"
    peers: tuple[StaticPeer, ...] = ()
    bfd_profiles: tuple[BfdProfileBlock, ...] = ()  # in the order written
    packet_peer_autodiscovery: bool = True
    # "crds": the config as metallb.io objects; "configmap": the legacy ConfigMap.
    # Default "crds", except with packet_peer_autodiscovery, which only the ConfigMap
    # can express (the metallb.io API has no peer autodiscovery).
    config_format: str = "crds"


def settings_from_block(body: Mapping[str, Any], source: str | None = None) -> ComponentSettings:
    """Check every attribute of the block; raise ConfigError listing every problem."""
    reader = _Reader(body)
    pools = reader.address_pools()
    settings = ComponentSettings(
        address_pools=pools,
        controller_node_selectors=reader.string_map("controller_node_selectors"),
        speaker_node_selectors=reader.string_map("speaker_node_selectors"),
        controller_tolerations=reader.tolerations("controller_toleration"),
        speaker_tolerations=reader.tolerations("speaker_toleration"),
        service_monitor=reader.boolean("service_monitor", False),
        controller_image=reader.string("controller_image", DEFAULT_IMAGE, non_empty=True),
        speaker_image=reader.string("speaker_image", DEFAULT_IMAGE, non_empty=True),
        log_level=reader.choice("log_level", LOG_LEVELS, "info"),
        peers=reader.peers("peer"),
        bfd_profiles=reader.bfd_profiles("bfd_profile"),
        packet_peer_autodiscovery=reader.boolean("packet_peer_autodiscovery", True),
    )
    settings = replace(settings, config_format=reader.config_format(settings))
    reader.reject_unknown()
    # The config parser's view of pools and peers is only meaningful if they were read
    # cleanly; its issues are reported together with the attribute issues.
    if not any(i.path.startswith(("address_pools", "peer", "bfd_profile")) for i in reader.issues):
        reader.issues.extend(_config_parser_issues(settings))
        if settings.config_format == "crds" and not reader.issues:
            reader.issues.extend(_conversion_issues(settings))
    if reader.issues:
        raise ConfigError(reader.issues, source=source)
    return settings


def legacy_config_document(settings: ComponentSettings) -> dict[str, Any]:
    """The MetalLB (legacy format) config the daemons read from the `metallb` ConfigMap."""
    document: dict[str, Any] = {}
    if settings.packet_peer_autodiscovery:
        document["peer-autodiscovery"] = PACKET_AUTODISCOVERY
    if settings.bfd_profiles:
        document["bfd-profiles"] = [profile.to_legacy() for profile in settings.bfd_profiles]
    if settings.peers:
        document["peers"] = [peer.to_legacy() for peer in settings.peers]
    document["address-pools"] = [
        {"name": name, "protocol": "bgp", "addresses": list(addresses)}
        for name, addresses in settings.address_pools
    ]
    return document


def _config_parser_issues(settings: ComponentSettings) -> list[ConfigIssue]:
    """Run `metallb config check`'s parser; its issues under HCL attribute names."""
    try:
        config = parse_config(legacy_config_document(settings))
    except ConfigError as exc:
        return [_to_attribute_issue(issue, settings) for issue in exc.issues]
    # The component writes a new config, with no old one to stay compatible with: what
    # the daemons would accept with a warning (a CIDR with host bits) is refused here.
    return [_to_attribute_issue(warning, settings) for warning in config.warnings]


def _conversion_issues(settings: ComponentSettings) -> list[ConfigIssue]:
    """What the metallb.io objects cannot express, and pool names that are no valid
    object names (a Service annotated with the name would not find the pool)."""
    try:
        conversion = convert_config(parse_config(legacy_config_document(settings)), "x")
    except ConfigError as exc:
        return [_to_attribute_issue(issue, settings) for issue in exc.issues]
    return [ConfigIssue(f"address_pools.{old}", "is not a valid IPAddressPool name (lower-case "
                        f"letters, digits, '-', '.'); e.g. {new}", old)
            for old, new in conversion.pool_renames]


_LEGACY_POOL_PATH = re.compile(r"^address-pools\[(\d+)\](?:\.addresses\[(\d+)\])?(.*)$")
_LEGACY_PEER_PATH = re.compile(r"^peers\[(\d+)\](.*)$")
_LEGACY_BFD_PATH = re.compile(r"^bfd-profiles\[(\d+)\](.*)$")


def _to_attribute_issue(issue: ConfigIssue, settings: ComponentSettings) -> ConfigIssue:
    """`address-pools[1].addresses[0]` -> `address_pools.pool2[0]`; `peers[0].x-y` ->
    `peer[0].x_y`; messages that refer to other legacy paths are rewritten the same way."""
    return ConfigIssue(
        _attribute_path(issue.path, settings),
        _rewrite_paths_in(issue.message, settings),
        issue.value,
    )


def _attribute_path(path: str, settings: ComponentSettings) -> str:
    match = _LEGACY_POOL_PATH.match(path)
    if match:
        index, entry, rest = int(match.group(1)), match.group(2), match.group(3)
        if index < len(settings.address_pools):
            name = settings.address_pools[index][0]
            where = f"address_pools.{name}"
            if entry is not None:
                where += f"[{entry}]"
            return where + rest.replace("-", "_")
        return "address_pools"
    match = _LEGACY_PEER_PATH.match(path)
    if match:
        return f"peer[{match.group(1)}]" + match.group(2).replace("-", "_")
    match = _LEGACY_BFD_PATH.match(path)
    if match and int(match.group(1)) < len(settings.bfd_profiles):
        name = settings.bfd_profiles[int(match.group(1))].name
        return f'bfd_profile "{name}"' + match.group(2).replace("-", "_")
    return path


def _rewrite_paths_in(message: str, settings: ComponentSettings) -> str:
    pattern = re.compile(r"(address-pools\[\d+\](?:\.addresses\[\d+\])?|peers\[\d+\]"
                         r"|bfd-profiles\[\d+\])")
    message = pattern.sub(lambda m: _attribute_path(m.group(1), settings), message)
    # the legacy names the config parser's messages use for what the block calls otherwise
    return (message.replace("entry of bfd-profiles", 'bfd_profile "NAME" block')
            .replace("echo-mode", "echo_mode"))


_KNOWN_ATTRIBUTES = (
    "address_pools",
    "controller_node_selectors",
    "speaker_node_selectors",
    "controller_toleration",
    "speaker_toleration",
    "service_monitor",
    "controller_image",
    "speaker_image",
    "log_level",
    "peer",
    "bfd_profile",
    "packet_peer_autodiscovery",
    "config_format",
)
_TOLERATION_FIELDS = ("key", "effect", "operator", "value", "toleration_seconds")
_PEER_FIELDS = (
    "peer_address", "peer_asn", "my_asn", "peer_port", "hold_time", "router_id",
    "source_address", "password", "node_selectors", "bfd_profile",
)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return "null"


class _Reader:
    """Collects issues while reading attributes, so one run reports all of them."""

    def __init__(self, body: Mapping[str, Any]):
        self.body = body
        self.issues: list[ConfigIssue] = []

    def _wrong_type(self, where: str, expected: str, value: Any, hint: str = "") -> None:
        message = f"wrong type: expected {expected}, got {_type_name(value)}"
        self.issues.append(ConfigIssue(where, message + (f"; {hint}" if hint else ""), value))

    def reject_unknown(self) -> None:
        for key in self.body:
            if key not in _KNOWN_ATTRIBUTES:
                self.issues.append(ConfigIssue(
                    key, "unknown attribute; known: " + ", ".join(_KNOWN_ATTRIBUTES)))

    def _string_value(self, where: str, value: Any) -> str | None:
        if isinstance(value, str):
            return value
        hint = f'write it in quotes: "{str(value).lower()}"' if isinstance(
            value, bool | int | float) else ""
        self._wrong_type(where, "string", value, hint)
        return None

    def address_pools(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if "address_pools" not in self.body:
            self.issues.append(ConfigIssue(
                "address_pools", 'is required: a map of pool name to a list of CIDRs, e.g. '
                'address_pools = { pool1 = ["198.51.100.20/32"] }'))
            return ()
        value = self.body["address_pools"]
        if not isinstance(value, dict):
            self._wrong_type("address_pools", "map(list(string))", value)
            return ()
        if not value:
            self.issues.append(ConfigIssue("address_pools", "must name at least one pool",
                                           value))
        pools = []
        for name in sorted(value):
            entries = value[name]
            where = f"address_pools.{name}"
            if not isinstance(entries, list):
                self._wrong_type(where, "list(string)", entries)
                continue
            if not entries:
                self.issues.append(ConfigIssue(where, "needs at least one CIDR", entries))
            strings = [self._string_value(f"{where}[{i}]", e) for i, e in enumerate(entries)]
            pools.append((name, tuple(s for s in strings if s is not None)))
        return tuple(pools)

    def string_map(self, key: str, body: Mapping[str, Any] | None = None,
                   where: str | None = None) -> tuple[tuple[str, str], ...]:
        body = self.body if body is None else body
        where = where or key
        if key not in body:
            return ()
        value = body[key]
        if not isinstance(value, dict):
            self._wrong_type(where, "map(string)", value)
            return ()
        items = []
        for name in sorted(value):
            text = self._string_value(f'{where}["{name}"]', value[name])
            if text is not None:
                items.append((name, text))
        return tuple(items)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.body.get(key, default)
        if isinstance(value, bool):
            return value
        self._wrong_type(key, "bool", value, "write true or false without quotes")
        return default

    def string(self, key: str, default: str, non_empty: bool = False) -> str:
        value = self.body.get(key, default)
        text = self._string_value(key, value)
        if text is None:
            return default
        if non_empty and not text.strip():
            self.issues.append(ConfigIssue(key, "must not be empty", text))
            return default
        return text

    def config_format(self, settings: ComponentSettings) -> str:
        autodiscovery = settings.packet_peer_autodiscovery
        chosen = self.choice("config_format", CONFIG_FORMATS,
                             "configmap" if autodiscovery else "crds")
        if chosen == "crds" and autodiscovery:
            self.issues.append(ConfigIssue(
                "config_format", 'cannot be "crds" with packet_peer_autodiscovery = true: '
                'the metallb.io API has no peer autodiscovery; use "configmap", or peer '
                "blocks with packet_peer_autodiscovery = false", chosen))
        return chosen

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        text = self.string(key, default)
        if text not in allowed:
            self.issues.append(ConfigIssue(key, "must be one of " + ", ".join(allowed), text))
            return default
        return text

    def _blocks(self, key: str) -> list[tuple[str, dict]]:
        value = self.body.get(key)
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            self._wrong_type(key, f"one or more {key} {{ ... }} blocks", value)
            return []
        blocks = []
        for i, item in enumerate(value):
            where = f"{key}[{i}]"
            if isinstance(item, dict):
                blocks.append((where, item))
            else:
                self._wrong_type(where, "block", item)
        return blocks

    def _unknown_fields(self, where: str, block: Mapping[str, Any],
                        known: tuple[str, ...]) -> None:
        for name in block:
            if name not in known:
                self.issues.append(ConfigIssue(
                    f"{where}.{name}", "unknown attribute; known: " + ", ".join(known)))

    def tolerations(self, key: str) -> tuple[Toleration, ...]:
        result = []
        for where, block in self._blocks(key):
            self._unknown_fields(where, block, _TOLERATION_FIELDS)
            text = {
                name: self._string_value(f"{where}.{name}", block[name]) or ""
                for name in ("key", "effect", "operator", "value")
                if name in block
            }
            toleration = Toleration(
                key=text.get("key", ""),
                operator=text.get("operator", "") or "Equal",
                value=text.get("value", ""),
                effect=text.get("effect", ""),
                toleration_seconds=self._seconds(f"{where}.toleration_seconds",
                                                 block.get("toleration_seconds")),
            )
            self._check_toleration(where, toleration)
            result.append(toleration)
        return tuple(result)

    def _seconds(self, where: str, value: Any) -> int | None:
        """The seed types toleration_seconds as a string; accept a whole number either way."""
        if value is None:
            return None
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong_type(where, "whole number of seconds", value)
            return None
        if value < 0:
            self.issues.append(ConfigIssue(where, "must not be negative", value))
            return None
        return value

    def _check_toleration(self, where: str, toleration: Toleration) -> None:
        if toleration.operator not in TOLERATION_OPERATORS:
            self.issues.append(ConfigIssue(
                f"{where}.operator", "must be Equal or Exists", toleration.operator))
        if toleration.effect and toleration.effect not in TAINT_EFFECTS:
            self.issues.append(ConfigIssue(
                f"{where}.effect", "must be a taint effect: " + ", ".join(TAINT_EFFECTS)
                + " (or left out to match every effect)", toleration.effect))
        if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
            self.issues.append(ConfigIssue(
                f"{where}.toleration_seconds", 'only applies with effect = "NoExecute"',
                toleration.toleration_seconds))
        if toleration.operator == "Exists" and toleration.value:
            self.issues.append(ConfigIssue(
                f"{where}.value", 'must be empty with operator = "Exists"', toleration.value))
        if not toleration.key and toleration.operator == "Equal":
            self.issues.append(ConfigIssue(
                f"{where}.key", 'is required unless operator = "Exists" (which then '
                                "tolerates every taint)"))

    def peers(self, key: str) -> tuple[StaticPeer, ...]:
        result = []
        for where, block in self._blocks(key):
            self._unknown_fields(where, block, _PEER_FIELDS)
            missing = [f for f in ("peer_address", "peer_asn", "my_asn") if f not in block]
            for name in missing:
                self.issues.append(ConfigIssue(f"{where}.{name}", "is required"))
            if missing:
                continue
            strings = {
                name: self._string_value(f"{where}.{name}", block[name])
                for name in ("peer_address", "hold_time", "router_id", "source_address",
                             "password", "bfd_profile")
                if name in block
            }
            numbers = {
                name: self._integer(f"{where}.{name}", block[name])
                for name in ("peer_asn", "my_asn", "peer_port")
                if name in block
            }
            result.append(StaticPeer(
                peer_address=strings.get("peer_address") or "",
                peer_asn=numbers.get("peer_asn") or 0,
                my_asn=numbers.get("my_asn") or 0,
                peer_port=numbers.get("peer_port"),
                hold_time=strings.get("hold_time"),
                router_id=strings.get("router_id"),
                source_address=strings.get("source_address"),
                password=strings.get("password"),
                bfd_profile=strings.get("bfd_profile"),
                node_selectors=self.string_map("node_selectors", block,
                                               f"{where}.node_selectors"),
            ))
        return tuple(result)

    def bfd_profiles(self, key: str) -> tuple[BfdProfileBlock, ...]:
        """`bfd_profile "NAME" { ... }` blocks (the HCL reader gives [{NAME: body}, ...])."""
        value = self.body.get(key)
        if value is None:
            return ()
        labelled = value if isinstance(value, list) else [value]
        if not all(isinstance(item, dict) and len(item) == 1
                   and isinstance(next(iter(item.values())), dict) for item in labelled):
            self._wrong_type(key, f'{key} "NAME" {{ ... }} blocks', value)
            return ()
        result: dict[str, BfdProfileBlock] = {}
        for item in labelled:
            ((name, block),) = item.items()
            where = f'{key} "{name}"'
            if name in result:
                self.issues.append(ConfigIssue(where, "defined twice; keep one block", name))
                continue
            self._unknown_fields(where, block, tuple(BFD_PROFILE_FIELDS))
            values = [(attr, self._bfd_value(f"{where}.{attr}", attr, block[attr]))
                      for attr in BFD_PROFILE_FIELDS if attr in block]
            result[name] = BfdProfileBlock(name, tuple(
                (attr, v) for attr, v in values if v is not None))
        return tuple(result.values())

    def _bfd_value(self, where: str, attr: str, value: Any) -> int | bool | None:
        if BFD_PROFILE_FIELDS[attr] in BFD_BOOL_FIELDS:
            if isinstance(value, bool):
                return value
            self._wrong_type(where, "bool", value, "write true or false without quotes")
            return None
        return self._integer(where, value)

    def _integer(self, where: str, value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong_type(where, "whole number", value)
            return None
        return value
