"""The BFD engine's reception rules (RFC 5881 TTL 255, RFC 5883 minimum TTL, session
lookup) on datagrams handed to it directly: the kernel's TTL cannot be lowered between
two namespaces on one segment, so the datagram carries the TTL the kernel would report.
The engine opens real send sockets (loopback addresses) but no receive socket."""

from __future__ import annotations

import pytest

from speaker.bfd.engine import Engine
from speaker.bfd.packet import ControlPacket, State
from speaker.bfd.spec import MULTIHOP_PORT, SINGLE_HOP_PORT, SessionSpec
from speaker.bfd.transport import Datagram

PEER = "127.0.0.2"
HELLO = ControlPacket(99, 0, State.DOWN).encode()


@pytest.fixture
def engine():
    events: list[dict[str, object]] = []
    engine = Engine(events.append)
    engine.events = events  # type: ignore[attr-defined]
    for port in (SINGLE_HOP_PORT, MULTIHOP_PORT):
        engine.receivers[(4, port)] = None  # type: ignore[assignment]  # no socket needed
    yield engine
    engine.receivers.clear()
    engine.shutdown()


def states(engine: Engine) -> list[str]:
    return [str(e["state"]) for e in engine.events]  # type: ignore[attr-defined]


def test_single_hop_takes_only_ttl_255(engine):
    engine.set_sessions([SessionSpec(PEER, local="127.0.0.1")])
    engine.on_datagram(Datagram(HELLO, PEER, 254, SINGLE_HOP_PORT))
    engine.on_datagram(Datagram(HELLO, PEER, None, SINGLE_HOP_PORT))
    assert engine.dropped == 2 and states(engine) == ["down"]
    engine.on_datagram(Datagram(HELLO, PEER, 255, SINGLE_HOP_PORT))
    assert engine.dropped == 2 and states(engine) == ["down", "init"]


def test_multihop_takes_the_profiles_minimum_ttl(engine):
    engine.set_sessions([SessionSpec(PEER, local="127.0.0.1", multihop=True, minimum_ttl=250)])
    engine.on_datagram(Datagram(HELLO, PEER, 249, MULTIHOP_PORT))
    assert engine.dropped == 1
    engine.on_datagram(Datagram(HELLO, PEER, 250, MULTIHOP_PORT))
    assert states(engine) == ["down", "init"]


def test_packets_from_strangers_or_the_wrong_port_are_dropped(engine):
    engine.set_sessions([SessionSpec(PEER, local="127.0.0.1")])
    engine.on_datagram(Datagram(HELLO, "127.0.0.3", 255, SINGLE_HOP_PORT))
    engine.on_datagram(Datagram(HELLO, PEER, 255, MULTIHOP_PORT))
    engine.on_datagram(Datagram(b"\x20garbage", PEER, 255, SINGLE_HOP_PORT))
    assert engine.dropped == 3 and states(engine) == ["down"]


# --- the process and its client (root namespace: no session, so no socket is bound) ---


def test_the_client_reports_bad_commands_and_an_unexpected_exit():
    import os
    import signal

    from speaker.bfd.client import BfdClient, BfdProcessError

    seen = []
    client = BfdClient(on_event=seen.append).start()
    try:
        assert client.stats() == {"dropped": 0, "send_errors": 0, "sessions": []}
        client._write({"op": "set", "sessions": [{"peer": "not an address"}]})
        error = next(client.events(timeout=5.0))
        assert error.kind == "error" and "not an address" in str(error.data["message"])
        os.kill(client.pid, signal.SIGKILL)  # type: ignore[arg-type]
        exited = [e for e in client.events(timeout=5.0) if e.kind == "exited"]
        assert exited and exited[0].data["returncode"] == -signal.SIGKILL
        assert seen[-1].kind == "exited"  # the callback heard it too
        with pytest.raises(BfdProcessError):
            client.set_sessions([])
    finally:
        client.stop(timeout=2.0)


def test_sigterm_is_a_clean_shutdown():
    import os
    import signal

    from speaker.bfd.client import BfdClient

    client = BfdClient().start()
    try:
        os.kill(client.pid, signal.SIGTERM)  # type: ignore[arg-type]
        kinds = [e.kind for e in client.events(timeout=5.0)]
        assert kinds == ["stopped", "exited"]
    finally:
        assert client.stop(timeout=2.0) == 0
