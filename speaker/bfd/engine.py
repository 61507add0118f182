"""The BFD process's event loop: sessions, sockets, timers and the control channel.

Control in (stdin, one JSON object a line): `{"op": "set", "sessions": [spec, ...]}`
makes exactly these sessions exist (new ones start Down, removed ones send AdminDown
first, changed timers are negotiated with a Poll sequence); `{"op": "stats"}` asks for
counters; `{"op": "shutdown"}` (or EOF, or SIGTERM) sends AdminDown to every peer and
exits. Events out (stdout, one JSON object a line): `ready`, `session` (every state
change), `stats`, `error`, `stopped`. See client.py for the other end.
"""

from __future__ import annotations

import json
import logging
import os
import random
import selectors
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from metallb.logs import log_event
from speaker.bfd import transport
from speaker.bfd.packet import PacketError, State, decode
from speaker.bfd.session import Output, Session
from speaker.bfd.spec import MULTIHOP_PORT, SessionKey, SessionSpec

log = logging.getLogger("speaker.bfd")

EventSink = Callable[[dict[str, object]], None]


@dataclass
class _Entry:
    spec: SessionSpec
    session: Session
    sock: socket.socket


class Engine:
    """All sessions of this process and their sockets.

    Holds: every session has a distinct non-zero local discriminator, `_by_discr` maps
    each to its session's key, and each session keeps one send socket (so one source
    port) for its life. One thread (the loop in `run`, or a test) calls every method;
    `emit` is called synchronously and must not block for long (the loop waits on it).
    """

    def __init__(self, emit: EventSink, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None,
                 watch: Callable[[socket.socket, int], None] | None = None):
        self.emit = emit
        self.watch = watch  # told of each receive socket (and its port) when it is opened
        self.clock = clock
        self.rng = rng or random.Random()
        self.sessions: dict[SessionKey, _Entry] = {}
        self._by_discr: dict[int, SessionKey] = {}
        self.receivers: dict[tuple[int, int], socket.socket] = {}
        self.dropped = 0
        self.send_errors = 0

    # -- sessions ----------------------------------------------------------------------
    def set_sessions(self, specs: list[SessionSpec]) -> None:
        now = self.clock()
        wanted = {s.key: s for s in specs}
        for key in [k for k in self.sessions if k not in wanted]:
            self._remove(key, now)
        for key, spec in wanted.items():
            entry = self.sessions.get(key)
            if entry is not None and entry.spec.local != spec.local:
                self._remove(key, now)
                entry = None
            if entry is None:
                self._add(spec, now)
            elif entry.spec != spec:
                entry.spec = spec
                self._apply(entry, entry.session.reconfigure(spec.session_config(), now))

    def _add(self, spec: SessionSpec, now: float) -> None:
        self._receiver(spec.family, spec.port)
        discr = self.rng.randint(1, 2**32 - 1)
        while discr in self._by_discr:
            discr = self.rng.randint(1, 2**32 - 1)
        sock = transport.send_socket(spec.family, spec.local, self.rng)
        entry = _Entry(spec, Session(spec.session_config(), discr, now, self.rng.random), sock)
        self.sessions[spec.key] = entry
        self._by_discr[discr] = spec.key
        log_event(log, "info", "bfd_session_added", peer=spec.peer, multihop=spec.multihop,
                  local=spec.local, tx_ms=spec.transmit_interval, rx_ms=spec.receive_interval,
                  multiplier=spec.detect_multiplier, passive=spec.passive)
        self._emit_state(entry, None)

    def _remove(self, key: SessionKey, now: float) -> None:
        entry = self.sessions.pop(key)
        self._apply(entry, entry.session.admin_down(now), report=False)
        del self._by_discr[entry.session.local_discr]
        entry.sock.close()
        log_event(log, "info", "bfd_session_removed", peer=entry.spec.peer,
                  multihop=entry.spec.multihop)

    def _receiver(self, version: int, port: int) -> socket.socket:
        sock = self.receivers.get((version, port))
        if sock is None:
            sock = transport.receive_socket(version, port)
            self.receivers[(version, port)] = sock
            if self.watch is not None:
                self.watch(sock, port)
        return sock

    # -- packets and timers ------------------------------------------------------------
    def on_datagram(self, dgram: transport.Datagram) -> None:
        try:
            pkt = decode(dgram.data)
        except PacketError as exc:
            self._drop(dgram, str(exc))
            return
        multihop = dgram.port == MULTIHOP_PORT
        if pkt.your_discriminator:
            key = self._by_discr.get(pkt.your_discriminator)
        else:
            key = (dgram.source, multihop)
        entry = self.sessions.get(key) if key else None
        if entry is None or entry.spec.peer != dgram.source or entry.spec.multihop != multihop:
            self._drop(dgram, "no session for this packet")
            return
        least_ttl = entry.spec.minimum_ttl if multihop else transport.MAX_TTL
        if dgram.ttl is None or dgram.ttl < least_ttl:
            self._drop(dgram, f"TTL {dgram.ttl} below {least_ttl}")
            return
        log_event(log, "debug", "bfd_packet_received", peer=dgram.source, state=pkt.state.label,
                  poll=pkt.poll, final=pkt.final, tx_us=pkt.desired_min_tx,
                  rx_us=pkt.required_min_rx, t=self.clock())
        self._apply(entry, entry.session.on_packet(pkt, self.clock()))

    def _drop(self, dgram: transport.Datagram, reason: str) -> None:
        self.dropped += 1
        log_event(log, "debug", "bfd_packet_dropped", source=dgram.source, port=dgram.port,
                  reason=reason)

    def on_timers(self) -> float | None:
        """Fire every due deadline; the next deadline of any session (None: none)."""
        now = self.clock()
        for entry in list(self.sessions.values()):
            deadline = entry.session.next_deadline()
            if deadline is not None and deadline <= now:
                self._apply(entry, entry.session.on_timer(now))
        deadlines = [d for e in self.sessions.values()
                     if (d := e.session.next_deadline()) is not None]
        return min(deadlines) if deadlines else None

    def _apply(self, entry: _Entry, out: Output, report: bool = True) -> None:
        for pkt in out.packets:
            log_event(log, "debug", "bfd_packet_sent", peer=entry.spec.peer,
                      state=pkt.state.label, poll=pkt.poll, final=pkt.final,
                      tx_us=pkt.desired_min_tx, t=self.clock())
            error = transport.send(entry.sock, pkt.encode(), entry.spec.peer, entry.spec.port)
            if error is not None:
                self.send_errors += 1
                log_event(log, "debug", "bfd_send_failed", peer=entry.spec.peer, error=error)
        if out.change is not None and report:
            self._emit_state(entry, out.change.old)

    def _emit_state(self, entry: _Entry, old: State | None) -> None:
        s = entry.session
        log_event(log, "info", "bfd_session_state", peer=entry.spec.peer,
                  multihop=entry.spec.multihop, state=s.state.label,
                  old=old.label if old is not None else None, diag=s.diag.label)
        self.emit({
            "event": "session", "peer": entry.spec.peer, "multihop": entry.spec.multihop,
            "state": s.state.label, "old": old.label if old is not None else None,
            "diag": s.diag.label, "detect_ms": s.detection_time() / 1000,
        })

    def stats(self) -> dict[str, object]:
        return {"event": "stats", "dropped": self.dropped, "send_errors": self.send_errors,
                "sessions": [
                    {"peer": e.spec.peer, "multihop": e.spec.multihop,
                     "state": e.session.state.label,
                     "control_packet_input": e.session.packets_in,
                     "control_packet_output": e.session.packets_out,
                     "session_up_events": e.session.up_events,
                     "session_down_events": e.session.down_events}
                    for e in self.sessions.values()]}

    def shutdown(self) -> None:
        """AdminDown to every peer (twice: one lost datagram must not look like a
        failure to the router), then close every socket."""
        now = self.clock()
        for entry in self.sessions.values():
            out = entry.session.admin_down(now)
            self._apply(entry, Output(out.packets * 2, out.change))
            entry.sock.close()
        self.sessions.clear()
        self._by_discr.clear()
        for sock in self.receivers.values():
            sock.close()
        self.receivers.clear()


class ControlLoop:
    """Runs an Engine against a control fd (JSON lines in) and an event writer.

    Single-threaded: `run` selects over the control fd, the receive sockets and a
    signal wake-up socket, with the earliest session deadline as timeout.
    """

    def __init__(self, control_fd: int, write_line: Callable[[str], None]):
        self.control_fd = control_fd
        self.write_line = write_line
        self.selector = selectors.DefaultSelector()
        self.engine = Engine(self._emit, watch=self._watch_receiver)
        self._buffer = b""
        self._stopping = False

    def _emit(self, event: dict[str, object]) -> None:
        self.write_line(json.dumps(event, separators=(",", ":")))

    def _watch_receiver(self, sock: socket.socket, port: int) -> None:
        self.selector.register(sock, selectors.EVENT_READ, ("udp", port))

    def run(self) -> int:
        wake_r, wake_w = socket.socketpair()
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGINT, lambda *_: None)
        self.selector.register(wake_r, selectors.EVENT_READ, ("signal", 0))
        os.set_blocking(self.control_fd, False)
        self.selector.register(self.control_fd, selectors.EVENT_READ, ("control", 0))
        self._emit({"event": "ready", "pid": os.getpid()})
        deadline = None
        while not self._stopping:
            timeout = None if deadline is None else max(0.0, deadline - self.engine.clock())
            for key, _mask in self.selector.select(timeout):
                kind, port = key.data
                if kind == "udp":
                    while (dgram := transport.read_datagram(key.fileobj, port)) is not None:
                        self.engine.on_datagram(dgram)
                elif kind == "control":
                    self._read_control()
                else:
                    self._stopping = True
            deadline = self.engine.on_timers()
        self.engine.shutdown()
        self._emit({"event": "stopped"})
        return 0

    def _read_control(self) -> None:
        try:
            chunk = os.read(self.control_fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            self._stopping = True  # the speaker is gone: nothing will act on our events
            return
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self._command(line)

    def _command(self, line: bytes) -> None:
        try:
            command = json.loads(line)
            op = command["op"]
            if op == "set":
                specs = [SessionSpec.from_json(s) for s in command["sessions"]]
                self.engine.set_sessions(specs)
            elif op == "stats":
                self._emit(self.engine.stats())
            elif op == "shutdown":
                self._stopping = True
            else:
                raise ValueError(f"unknown op {op!r}")
        except (ValueError, TypeError, KeyError, OSError) as exc:
            log_event(log, "error", "bfd_bad_command", error=exc)
            self._emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
