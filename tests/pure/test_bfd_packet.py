"""BFD control packet codec (RFC 5880 4.1) and the reception checks of 6.8.6."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from speaker.bfd.packet import LENGTH, ControlPacket, Diag, PacketError, State, decode

U32 = st.integers(1, 2**32 - 1)


def test_a_known_packet_encodes_to_the_rfc_layout():
    pkt = ControlPacket(my_discriminator=0x01020304, your_discriminator=0x05060708,
                        state=State.UP, diag=Diag.NEIGHBOR_SIGNALED_SESSION_DOWN,
                        detect_mult=3, desired_min_tx=300_000, required_min_rx=50_000,
                        poll=True)
    data = pkt.encode()
    assert len(data) == LENGTH == 24
    assert data[0] == (1 << 5) | 3  # version 1, diag 3
    assert data[1] == (3 << 6) | 0x20  # state Up, Poll
    assert data[2:4] == bytes([3, 24])
    assert data[4:12] == bytes(range(1, 9))
    assert data[12:16] == (300_000).to_bytes(4, "big")
    assert data[16:20] == (50_000).to_bytes(4, "big")
    assert data[20:24] == bytes(4)


@given(
    my=U32, your=st.integers(0, 2**32 - 1), state=st.sampled_from(State),
    diag=st.sampled_from(Diag), mult=st.integers(1, 255),
    tx=st.integers(0, 2**32 - 1), rx=st.integers(0, 2**32 - 1),
    echo=st.integers(0, 2**32 - 1), poll=st.booleans(), final=st.booleans(),
    cpi=st.booleans(), demand=st.booleans(),
)
def test_decode_inverts_encode(my, your, state, diag, mult, tx, rx, echo, poll, final, cpi,
                               demand):
    if your == 0 and state in (State.INIT, State.UP):
        your = 1
    pkt = ControlPacket(my, your, state, diag, mult, tx, rx, echo, poll, final, cpi, False,
                        demand)
    assert decode(pkt.encode()) == pkt


@given(st.binary(max_size=64))
def test_decode_never_fails_other_than_with_packet_error(data):
    with contextlib.suppress(PacketError):
        decode(data)


def good() -> bytearray:
    return bytearray(ControlPacket(7, 9, State.UP).encode())


def patched(offset: int, value: int) -> bytes:
    data = good()
    data[offset] = value
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (good()[:23], "shorter than a control packet"),
        (patched(0, 2 << 5), "version 2"),
        (patched(2, 0), "detect multiplier is zero"),
        (patched(3, 23), "length field 23"),
        (patched(3, 40), "length field 40"),
        (patched(1, (3 << 6) | 0x01), "multipoint"),
        (bytes(good()[:4]) + bytes(4) + bytes(good()[8:]), "my discriminator is zero"),
        (bytes(good()[:8]) + bytes(4) + bytes(good()[12:]), "your discriminator is zero"),
        (patched(1, (3 << 6) | 0x04), "length field 24"),  # A bit needs an auth section
    ],
)
def test_malformed_packets_are_refused_with_the_rule(data, reason):
    with pytest.raises(PacketError, match=reason):
        decode(data)


def test_zero_your_discriminator_is_fine_in_down_and_admin_down():
    for state in (State.DOWN, State.ADMIN_DOWN):
        assert decode(ControlPacket(7, 0, state).encode()).state == state
