"""What the BFD process is asked to run: one frozen SessionSpec per peer, as JSON.

`spec_for_peer` is the one translation from the config model (a Peer with its
BfdProfile) to a session, so the speaker and the tests build sessions the same way.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass

from metallb.config.model import DEFAULT_BFD_MINIMUM_TTL, BfdProfile, Peer
from speaker.bfd.session import SessionConfig

SINGLE_HOP_PORT = 3784  # RFC 5881
MULTIHOP_PORT = 4784  # RFC 5883
SessionKey = tuple[str, bool]  # (peer address, multihop)


@dataclass(frozen=True)
class SessionSpec:
    """One BFD session. `local` is the source address (None: the kernel picks);
    intervals in milliseconds; `minimum_ttl` is checked on multihop sessions only
    (single-hop packets must arrive with TTL 255, RFC 5881)."""

    peer: str
    local: str | None = None
    multihop: bool = False
    transmit_interval: int = 300
    receive_interval: int = 300
    detect_multiplier: int = 3
    passive: bool = False
    minimum_ttl: int = DEFAULT_BFD_MINIMUM_TTL

    def __post_init__(self) -> None:
        object.__setattr__(self, "peer", str(ipaddress.ip_address(self.peer)))
        if self.local is not None:
            local = ipaddress.ip_address(self.local)
            if local.version != self.family:
                raise ValueError(f"local address {self.local} is not of the family of "
                                 f"peer {self.peer}")
            object.__setattr__(self, "local", str(local))
        for name in ("transmit_interval", "receive_interval"):
            if not 1 <= getattr(self, name) <= 4_294_967:
                raise ValueError(f"{name} out of range: {getattr(self, name)}")
        if not 1 <= self.detect_multiplier <= 255 or not 1 <= self.minimum_ttl <= 255:
            raise ValueError("detect_multiplier and minimum_ttl must be 1..255")

    @property
    def family(self) -> int:
        return ipaddress.ip_address(self.peer).version

    @property
    def key(self) -> SessionKey:
        return (self.peer, self.multihop)

    @property
    def port(self) -> int:
        return MULTIHOP_PORT if self.multihop else SINGLE_HOP_PORT

    def session_config(self) -> SessionConfig:
        return SessionConfig.from_ms(self.transmit_interval, self.receive_interval,
                                     self.detect_multiplier, self.passive)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SessionSpec:
        """From `to_json`'s shape; TypeError/ValueError on unknown keys or bad values."""
        return cls(**data)  # type: ignore[arg-type]


def spec_for_peer(peer: Peer, profile: BfdProfile) -> SessionSpec:
    """The session a peer with `bfd-profile` gets: multihop for `ebgp-multihop` peers
    (RFC 5883), single-hop otherwise; from the peer's source address if it has one."""
    return SessionSpec(
        peer=peer.peer_address,
        local=peer.source_address,
        multihop=peer.ebgp_multihop,
        transmit_interval=profile.effective_transmit_interval,
        receive_interval=profile.effective_receive_interval,
        detect_multiplier=profile.effective_detect_multiplier,
        passive=profile.passive_mode,
        minimum_ttl=profile.effective_minimum_ttl,
    )
