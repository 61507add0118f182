"""BFD control packets (RFC 5880 section 4.1), without authentication.

Intervals are carried in microseconds, as on the wire. `decode` checks what RFC 5880
6.8.6 requires of every packet before any session looks at it, so a session only ever
sees well-formed packets.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

VERSION = 1
HEADER = struct.Struct("!BBBBIIIII")
LENGTH = HEADER.size  # 24: a control packet without authentication
MAX_U32 = 2**32 - 1


class State(enum.IntEnum):
    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = {State.ADMIN_DOWN: "admin_down", State.DOWN: "down", State.INIT: "init",
                 State.UP: "up"}


class Diag(enum.IntEnum):
    NONE = 0
    CONTROL_DETECTION_TIME_EXPIRED = 1
    ECHO_FUNCTION_FAILED = 2
    NEIGHBOR_SIGNALED_SESSION_DOWN = 3
    FORWARDING_PLANE_RESET = 4
    PATH_DOWN = 5
    CONCATENATED_PATH_DOWN = 6
    ADMINISTRATIVELY_DOWN = 7
    REVERSE_CONCATENATED_PATH_DOWN = 8

    @property
    def label(self) -> str:
        return self.name.lower()


class PacketError(ValueError):
    """A datagram that is no valid BFD control packet; the message says which rule."""


@dataclass(frozen=True)
class ControlPacket:
    my_discriminator: int
    your_discriminator: int = 0
    state: State = State.DOWN
    diag: Diag = Diag.NONE
    detect_mult: int = 3
    desired_min_tx: int = 1_000_000  # microseconds
    required_min_rx: int = 1_000_000  # microseconds
    required_min_echo_rx: int = 0  # microseconds; 0: we do not take echo packets
    poll: bool = False
    final: bool = False
    control_plane_independent: bool = False
    authentication: bool = False
    demand: bool = False
    multipoint: bool = False

    def encode(self) -> bytes:
        flags = (
            (self.state << 6) | (self.poll << 5) | (self.final << 4)
            | (self.control_plane_independent << 3) | (self.authentication << 2)
            | (self.demand << 1) | int(self.multipoint)
        )
        return HEADER.pack(
            (VERSION << 5) | self.diag, flags, self.detect_mult, LENGTH,
            self.my_discriminator, self.your_discriminator, self.desired_min_tx,
            self.required_min_rx, self.required_min_echo_rx,
        )


def decode(data: bytes) -> ControlPacket:
    """The packet in `data`, or PacketError naming the RFC 5880 6.8.6 check that failed."""
    if len(data) < LENGTH:
        raise PacketError(f"{len(data)} bytes, shorter than a control packet ({LENGTH})")
    (vers_diag, flags, detect_mult, length, my_discr, your_discr, min_tx, min_rx,
     echo_rx) = HEADER.unpack_from(data)
    if vers_diag >> 5 != VERSION:
        raise PacketError(f"version {vers_diag >> 5}, not {VERSION}")
    authentication = bool(flags & 0x04)
    if length < LENGTH or length > len(data) or (authentication and length < LENGTH + 2):
        raise PacketError(f"length field {length} does not fit the {len(data)}-byte datagram")
    if detect_mult == 0:
        raise PacketError("detect multiplier is zero")
    if flags & 0x01:
        raise PacketError("multipoint bit set")
    if my_discr == 0:
        raise PacketError("my discriminator is zero")
    state = State(flags >> 6)
    if your_discr == 0 and state not in (State.DOWN, State.ADMIN_DOWN):
        raise PacketError(f"your discriminator is zero in state {state.label}")
    diag = vers_diag & 0x1F
    return ControlPacket(
        my_discriminator=my_discr, your_discriminator=your_discr, state=state,
        diag=Diag(diag) if diag in Diag._value2member_map_ else Diag.NONE,
        detect_mult=detect_mult, desired_min_tx=min_tx, required_min_rx=min_rx,
        required_min_echo_rx=echo_rx, poll=bool(flags & 0x20), final=bool(flags & 0x10),
        control_plane_independent=bool(flags & 0x08), authentication=authentication,
        demand=bool(flags & 0x02), multipoint=False,
    )
