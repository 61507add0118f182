"""UDP sockets for BFD control packets (RFC 5881 single-hop, RFC 5883 multihop).

Receiving: one socket per (family, port), bound to the wildcard address, asking the
kernel for each datagram's TTL / hop limit (IP_RECVTTL, IPV6_RECVHOPLIMIT) so the engine
can enforce RFC 5881's TTL 255 (a packet from farther away is a spoof) and a multihop
session's minimum TTL. Sending: one socket per session, bound to a source port in
49152-65535 that the session keeps for its lifetime (RFC 5881 section 4), with TTL /
hop limit 255.
"""

from __future__ import annotations

import errno
import random
import socket
import struct
from dataclasses import dataclass

IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)  # Linux value; Python does not export it
IP_TTL = socket.IP_TTL
IPV6_RECVHOPLIMIT = socket.IPV6_RECVHOPLIMIT
IPV6_HOPLIMIT = socket.IPV6_HOPLIMIT
SOURCE_PORTS = (49152, 65535)
MAX_TTL = 255
_INT = struct.Struct("=i")  # the kernel's native int, as the TTL cmsg carries it
_ANCILLARY_SPACE = socket.CMSG_SPACE(_INT.size)


@dataclass(frozen=True)
class Datagram:
    data: bytes
    source: str  # the sender's address, canonical text
    ttl: int | None  # None when the kernel gave none (then it cannot pass a TTL check)
    port: int  # the local port it arrived on (3784 or 4784)


def _family(version: int) -> socket.AddressFamily:
    return socket.AF_INET6 if version == 6 else socket.AF_INET


def receive_socket(version: int, port: int) -> socket.socket:
    """A non-blocking wildcard socket on `port` that reports each datagram's TTL."""
    sock = socket.socket(_family(version), socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if version == 6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            sock.bind(("::", port))
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            sock.bind(("0.0.0.0", port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def read_datagram(sock: socket.socket, port: int) -> Datagram | None:
    """One datagram from a receive socket, or None when none is waiting."""
    try:
        data, ancillary, _flags, address = sock.recvmsg(512, _ANCILLARY_SPACE)
    except (BlockingIOError, InterruptedError):
        return None
    ttl = None
    for level, kind, value in ancillary:
        if (level, kind) in ((socket.IPPROTO_IP, IP_TTL), (socket.IPPROTO_IPV6, IPV6_HOPLIMIT)):
            ttl = _INT.unpack_from(value.ljust(_INT.size, b"\0"))[0]
    source = address[0].split("%", 1)[0]
    return Datagram(data, source, ttl, port)


def send_socket(version: int, local: str | None, rng: random.Random) -> socket.socket:
    """A socket bound to `local` (or any address) and a free port in 49152-65535, TTL 255."""
    sock = socket.socket(_family(version), socket.SOCK_DGRAM)
    try:
        if version == 6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, MAX_TTL)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_TTL, MAX_TTL)
        host = local or ("::" if version == 6 else "0.0.0.0")
        for _attempt in range(64):
            try:
                sock.bind((host, rng.randint(*SOURCE_PORTS)))
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        else:
            raise OSError(errno.EADDRINUSE, "no free BFD source port in 49152-65535")
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def send(sock: socket.socket, data: bytes, peer: str, port: int) -> OSError | None:
    """Send without blocking; the error instead of raising (a full buffer or an
    unreachable peer loses one packet, which BFD tolerates by design)."""
    try:
        sock.sendto(data, (peer, port))
    except OSError as exc:
        return exc
    return None
