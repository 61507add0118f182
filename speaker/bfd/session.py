"""One BFD session's state machine (RFC 5880 section 6.8), with no I/O and no clock.

The caller feeds it what happened (a packet arrived, a deadline passed, the config
changed, shutdown) together with the current time, and gets back the packets to send
now and, through `next_deadline`, when to call `on_timer` next. The same object drives
the real engine, the table tests and the property tests, which wire two sessions
together on a simulated clock.

Timer rules implemented (RFC 5880 6.8.2-6.8.4, 6.8.7):
- While not Up, the advertised Desired Min TX is at least one second (6.8.3).
- The transmit interval is max(our Desired Min TX in use, the peer's Required Min RX),
  less 0-25% jitter (10-25% when our detect multiplier is 1); none while the peer
  asks for 0, and none from a passive session before the peer has spoken.
- Detection time is the peer's detect multiplier times max(our Required Min RX in use,
  the peer's Desired Min TX).
- A change of our advertised timers while Up starts a Poll sequence; a slower transmit
  interval or a faster receive interval only takes effect when the Final arrives, the
  safe direction at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from speaker.bfd.packet import ControlPacket, Diag, State

SLOW_TX_INTERVAL = 1_000_000  # microseconds: Desired Min TX floor while not Up (6.8.3)
MICROSECONDS = 1_000_000


@dataclass(frozen=True)
class SessionConfig:
    """What we ask of the peer; intervals in microseconds (the packet's unit)."""

    desired_min_tx: int = 300_000
    required_min_rx: int = 300_000
    detect_mult: int = 3
    passive: bool = False

    @classmethod
    def from_ms(cls, transmit_ms: int, receive_ms: int, detect_mult: int,
                passive: bool = False) -> SessionConfig:
        return cls(transmit_ms * 1000, receive_ms * 1000, detect_mult, passive)


@dataclass(frozen=True)
class StateChange:
    old: State
    new: State
    diag: Diag  # our diagnostic after the change: why it went down, if it did


@dataclass(frozen=True)
class Output:
    """What one call produced: packets to send now and the state change, if any."""

    packets: tuple[ControlPacket, ...] = ()
    change: StateChange | None = None


class Session:
    """The RFC 5880 variables of one session and the rules that change them.

    Holds: `state` is the local session state; `remote_discr` is 0 until a packet from
    the peer was accepted, and again after a detection timeout; `next_deadline()` is the
    earliest of the next transmission and the detection timeout, None when neither is
    due. Not thread-safe: one thread (the engine's loop) calls every method.
    """

    def __init__(self, config: SessionConfig, local_discr: int, now: float,
                 rand: Callable[[], float] = random.random):
        if not 0 < local_discr < 2**32:
            raise ValueError(f"local discriminator must be 1..2^32-1, got {local_discr}")
        self.config = config
        self.local_discr = local_discr
        self._rand = rand
        self.state = State.DOWN
        self.diag = Diag.NONE
        self.remote_discr = 0
        self.remote_state = State.DOWN
        self.remote_min_rx = 1  # microseconds, RFC 5880 6.8.1 initial value
        self.remote_min_tx = 0
        self.remote_detect_mult = 0
        self.poll_pending = False
        self._tx_in_use = self._advertised_tx()
        self._rx_in_use = config.required_min_rx
        self._next_tx: float | None = now
        self._detect_at: float | None = None
        self.packets_in = 0
        self.packets_out = 0
        self.up_events = 0
        self.down_events = 0

    # -- derived values ----------------------------------------------------------------
    def _advertised_tx(self) -> int:
        if self.state == State.UP:
            return self.config.desired_min_tx
        return max(self.config.desired_min_tx, SLOW_TX_INTERVAL)

    def tx_interval(self) -> int:
        """Microseconds between periodic packets, before jitter."""
        return max(self._tx_in_use, self.remote_min_rx)

    def detection_time(self) -> int:
        """Microseconds without a packet after which the session goes down."""
        return self.remote_detect_mult * max(self._rx_in_use, self.remote_min_tx)

    def _may_transmit(self) -> bool:
        if self.remote_min_rx == 0:
            return False
        return not (self.config.passive and self.remote_discr == 0)

    def next_deadline(self) -> float | None:
        times = [t for t in (self._next_tx, self._detect_at) if t is not None]
        return min(times) if times else None

    def _jittered(self, now: float) -> float:
        low, high = (0.75, 0.90) if self.config.detect_mult == 1 else (0.75, 1.0)
        factor = low + (high - low) * self._rand()
        return now + self.tx_interval() * factor / MICROSECONDS

    def packet(self, *, poll: bool = False, final: bool = False) -> ControlPacket:
        return ControlPacket(
            my_discriminator=self.local_discr, your_discriminator=self.remote_discr,
            state=self.state, diag=self.diag, detect_mult=self.config.detect_mult,
            desired_min_tx=self._advertised_tx(), required_min_rx=self.config.required_min_rx,
            poll=poll, final=final,
        )

    def _send(self, sent: list[ControlPacket], *, final: bool = False) -> None:
        sent.append(self.packet(poll=self.poll_pending and not final, final=final))
        self.packets_out += 1

    # -- events ------------------------------------------------------------------------
    def on_packet(self, pkt: ControlPacket, now: float) -> Output:
        """A decoded packet addressed to this session (RFC 5880 6.8.6)."""
        if pkt.your_discriminator not in (0, self.local_discr) or pkt.authentication:
            return Output()
        self.packets_in += 1
        had_remote = self.remote_discr != 0
        slower_before = pkt.required_min_rx < self.remote_min_rx
        self.remote_discr = pkt.my_discriminator
        self.remote_state = pkt.state
        self.remote_min_rx = pkt.required_min_rx
        if slower_before and self._next_tx is not None:
            # The peer takes packets faster now (FRR asks for 1 s while Down, then
            # polls with its profile): the next one must not wait for the old interval.
            self._next_tx = min(self._next_tx, self._jittered(now))
        self.remote_min_tx = pkt.desired_min_tx
        self.remote_detect_mult = pkt.detect_mult
        if pkt.final and self.poll_pending:
            self._end_poll()
        if self.state == State.ADMIN_DOWN:
            return Output()
        self._detect_at = now + self.detection_time() / MICROSECONDS
        sent: list[ControlPacket] = []
        change = self._transition(pkt.state, now)
        if change is not None:
            self._send(sent)  # tell the peer at once; the periodic timer restarts
            self._next_tx = self._jittered(now) if self._may_transmit() else None
        elif not had_remote and self._may_transmit():
            self._next_tx = now  # a passive session answers its first packet at once
        if pkt.poll:
            self._send(sent, final=True)
        if not self._may_transmit():
            self._next_tx = None
        elif self._next_tx is None:
            self._next_tx = self._jittered(now)
        return Output(tuple(sent), change)

    def _transition(self, remote: State, now: float) -> StateChange | None:
        if remote == State.ADMIN_DOWN:
            if self.state != State.DOWN:
                return self._set_state(State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN, now)
            return None
        if self.state == State.DOWN:
            if remote == State.DOWN:
                return self._set_state(State.INIT, Diag.NONE, now)
            if remote == State.INIT:
                return self._set_state(State.UP, Diag.NONE, now)
        elif self.state == State.INIT:
            if remote in (State.INIT, State.UP):
                return self._set_state(State.UP, Diag.NONE, now)
        elif self.state == State.UP and remote == State.DOWN:
            return self._set_state(State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN, now)
        return None

    def on_timer(self, now: float) -> Output:
        """Whatever deadline has passed: detection timeout first, then transmission."""
        change = None
        if self._detect_at is not None and now >= self._detect_at:
            self._detect_at = None
            self.remote_discr = 0
            if self.state in (State.INIT, State.UP):
                change = self._set_state(State.DOWN, Diag.CONTROL_DETECTION_TIME_EXPIRED, now)
        sent: list[ControlPacket] = []
        if not self._may_transmit():
            self._next_tx = None
        elif change is not None or self._next_tx is None or now >= self._next_tx:
            self._send(sent)
            self._next_tx = self._jittered(now)
        return Output(tuple(sent), change)

    def reconfigure(self, config: SessionConfig, now: float) -> Output:
        """New timers or passive mode; while Up the peer learns them by a Poll sequence."""
        if config == self.config:
            return Output()
        self.config = config
        self._timers_changed(now)
        return Output()

    def admin_down(self, now: float) -> Output:
        """Shutdown: AdminDown with diag 7 to the peer, which then goes Down without
        declaring a failure. The session stays AdminDown and ignores the peer."""
        if self.state == State.ADMIN_DOWN:
            return Output()
        change = self._set_state(State.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN, now)
        self._detect_at = None
        sent: list[ControlPacket] = []
        if self.remote_min_rx != 0:
            self._send(sent)
        return Output(tuple(sent), change)

    # -- internals ---------------------------------------------------------------------
    def _set_state(self, new: State, diag: Diag, now: float) -> StateChange:
        old = self.state
        self.state = new
        self.diag = diag
        if new == State.UP:
            self.up_events += 1
        elif old == State.UP:
            self.down_events += 1
        if new != State.UP:
            self.poll_pending = False  # a Poll only means something on an Up session
        self._timers_changed(now)
        return StateChange(old, new, diag)

    def _timers_changed(self, now: float) -> None:
        tx, rx = self._advertised_tx(), self.config.required_min_rx
        up = self.state == State.UP
        if up and (tx != self._tx_in_use or rx != self._rx_in_use):
            self.poll_pending = True
        # Faster sending and slower detection are always safe; the rest waits for Final.
        if not up or tx < self._tx_in_use:
            self._tx_in_use = tx
        if not up or rx > self._rx_in_use:
            self._rx_in_use = rx
        if self._next_tx is not None:
            self._next_tx = min(self._next_tx, self._jittered(now))

    def _end_poll(self) -> None:
        self.poll_pending = False
        self._tx_in_use = self._advertised_tx()
        self._rx_in_use = self.config.required_min_rx
