"""The BFD session state machine (RFC 5880 6.8): transitions, timers, Poll/Final,
passive and administrative down, driven by packets and a simulated clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speaker.bfd.packet import ControlPacket, Diag, State
from speaker.bfd.session import SLOW_TX_INTERVAL, Session, SessionConfig
from tests.pure.bfd_sim import Pair

FAST = SessionConfig.from_ms(50, 50, 3)
PEER = 4242


def session(config: SessionConfig = FAST, rand: float = 1.0) -> Session:
    return Session(config, 1111, 0.0, rand=lambda: rand)


def from_peer(state: State, your: int = 1111, **kwargs: object) -> ControlPacket:
    fields = {"desired_min_tx": 50_000, "required_min_rx": 50_000, **kwargs}
    return ControlPacket(PEER, your, state, **fields)  # type: ignore[arg-type]


def in_state(state: State) -> Session:
    s = session()
    if state == State.INIT:
        s.on_packet(from_peer(State.DOWN, your=0), 0.0)
    elif state == State.UP:
        s.on_packet(from_peer(State.INIT), 0.0)
    elif state == State.ADMIN_DOWN:
        s.admin_down(0.0)
    assert s.state == state
    return s


# --- state transitions (RFC 5880 6.8.6, the table after "If bfd.SessionState is...") ---


@pytest.mark.parametrize(
    ("local", "received", "after", "diag"),
    [
        (State.DOWN, State.DOWN, State.INIT, Diag.NONE),
        (State.DOWN, State.INIT, State.UP, Diag.NONE),
        (State.DOWN, State.UP, State.DOWN, Diag.NONE),
        (State.DOWN, State.ADMIN_DOWN, State.DOWN, Diag.NONE),
        (State.INIT, State.DOWN, State.INIT, Diag.NONE),
        (State.INIT, State.INIT, State.UP, Diag.NONE),
        (State.INIT, State.UP, State.UP, Diag.NONE),
        (State.INIT, State.ADMIN_DOWN, State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
        (State.UP, State.DOWN, State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
        (State.UP, State.INIT, State.UP, Diag.NONE),
        (State.UP, State.UP, State.UP, Diag.NONE),
        (State.UP, State.ADMIN_DOWN, State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
        (State.ADMIN_DOWN, State.INIT, State.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN),
    ],
)
def test_state_table(local, received, after, diag):
    s = in_state(local)
    your = 0 if received in (State.DOWN, State.ADMIN_DOWN) else 1111
    out = s.on_packet(from_peer(received, your=your), 1.0)
    assert (s.state, s.diag) == (after, diag)
    assert (out.change is not None) == (after != local)
    if out.change is not None:
        assert out.packets and out.packets[0].state == after  # the peer learns it at once


def test_a_packet_for_another_discriminator_is_ignored():
    s = session()
    assert s.on_packet(from_peer(State.INIT, your=999), 0.0).packets == ()
    assert (s.state, s.remote_discr, s.packets_in) == (State.DOWN, 0, 0)


def test_an_authenticated_packet_is_ignored_as_we_configure_no_authentication():
    s = session()
    s.on_packet(from_peer(State.DOWN, your=0, authentication=True), 0.0)
    assert (s.state, s.remote_discr) == (State.DOWN, 0)


# --- detection ---------------------------------------------------------------------------


def test_silence_for_the_detection_time_takes_an_up_session_down_with_diag_1():
    s = in_state(State.UP)
    s.on_packet(from_peer(State.UP, detect_mult=4, desired_min_tx=80_000), 10.0)
    assert s.detection_time() == 4 * 80_000
    assert s.on_timer(10.3).change is None
    out = s.on_timer(10.32)
    assert out.change is not None and out.change.new == State.DOWN
    assert (s.diag, s.remote_discr) == (Diag.CONTROL_DETECTION_TIME_EXPIRED, 0)
    assert s.down_events == 1 and s.up_events == 1


def test_detection_time_uses_our_receive_interval_when_larger():
    s = Session(SessionConfig.from_ms(50, 200, 3), 1111, 0.0)
    s.on_packet(from_peer(State.DOWN, your=0, desired_min_tx=50_000, detect_mult=5), 0.0)
    assert s.detection_time() == 5 * 200_000


# --- transmission timers -----------------------------------------------------------------


def test_while_not_up_we_advertise_at_least_one_second_then_the_profile_when_up():
    s = session()
    assert s.packet().desired_min_tx == SLOW_TX_INTERVAL
    s.on_packet(from_peer(State.INIT), 0.0)
    assert s.packet().desired_min_tx == 50_000
    assert s.tx_interval() == 50_000


def test_jitter_keeps_intervals_between_75_and_100_percent():
    for rand, expected in ((0.0, 0.75), (1.0, 1.0)):
        s = session(rand=rand)
        s.on_packet(from_peer(State.INIT), 0.0)
        assert s.on_timer(0.06).packets
        assert s.next_deadline() == pytest.approx(0.06 + 0.05 * expected)


def test_jitter_stays_below_90_percent_when_our_multiplier_is_one():
    s = session(SessionConfig.from_ms(50, 50, 1), rand=1.0)
    s.on_packet(from_peer(State.INIT), 0.0)
    assert s.on_timer(0.06).packets
    assert s.next_deadline() == pytest.approx(0.06 + 0.05 * 0.9)


def test_we_send_no_faster_than_the_peer_can_receive():
    s = in_state(State.UP)
    s.on_packet(from_peer(State.UP, required_min_rx=500_000), 0.0)
    assert s.tx_interval() == 500_000


def test_a_peer_that_lowers_its_receive_interval_gets_packets_at_the_new_rate_at_once():
    # FRR asks for 1 s while Down and polls with its profile once Up.
    s = session(rand=1.0)
    s.on_packet(from_peer(State.INIT, required_min_rx=1_000_000, desired_min_tx=1_000_000), 0.0)
    assert s.state == State.UP and s.next_deadline() == pytest.approx(1.0)
    s.on_packet(from_peer(State.UP, poll=True, required_min_rx=50_000), 0.01)
    assert s.next_deadline() == pytest.approx(0.06)


def test_a_peer_asking_for_zero_receive_interval_gets_no_periodic_packets():
    s = in_state(State.UP)
    s.on_packet(from_peer(State.UP, required_min_rx=0), 0.0)
    assert s.on_timer(5.0).packets == ()


# --- Poll / Final --------------------------------------------------------------------------


def test_coming_up_polls_for_the_faster_timers_until_final():
    s = in_state(State.UP)
    assert s.poll_pending and s.on_timer(0.06).packets[0].poll
    s.on_packet(from_peer(State.UP, final=True), 0.07)
    assert not s.poll_pending and not s.on_timer(0.13).packets[0].poll


def test_a_poll_is_answered_at_once_with_final_and_without_poll():
    s = in_state(State.UP)
    out = s.on_packet(from_peer(State.UP, poll=True), 1.0)
    (reply,) = out.packets
    assert reply.final and not reply.poll


def test_a_slower_transmit_interval_waits_for_final_a_faster_one_does_not():
    s = in_state(State.UP)
    s.on_packet(from_peer(State.UP, final=True), 0.0)
    s.reconfigure(SessionConfig.from_ms(300, 50, 3), 0.1)
    assert s.poll_pending and s.tx_interval() == 50_000
    assert s.packet().desired_min_tx == 300_000
    s.on_packet(from_peer(State.UP, final=True), 0.2)
    assert s.tx_interval() == 300_000
    s.reconfigure(SessionConfig.from_ms(20, 50, 3), 0.3)
    assert s.tx_interval() == 50_000  # the peer's receive interval now limits


def test_a_faster_receive_interval_keeps_the_old_detection_time_until_final():
    s = Session(SessionConfig.from_ms(50, 300, 3), 1111, 0.0)
    s.on_packet(from_peer(State.INIT, desired_min_tx=10_000), 0.0)
    s.on_packet(from_peer(State.UP, final=True, desired_min_tx=10_000), 0.0)
    s.reconfigure(SessionConfig.from_ms(50, 50, 3), 0.1)
    assert s.detection_time() == 3 * 300_000
    s.on_packet(from_peer(State.UP, final=True, desired_min_tx=10_000), 0.2)
    assert s.detection_time() == 3 * 50_000


# --- passive and administratively down -------------------------------------------------------


def test_a_passive_session_waits_for_the_peer_then_answers_at_once():
    s = session(SessionConfig.from_ms(50, 50, 3, passive=True))
    assert s.next_deadline() is None or s.on_timer(0.0).packets == ()
    assert s.on_timer(5.0).packets == ()
    out = s.on_packet(from_peer(State.DOWN, your=0), 5.0)
    assert out.packets and out.packets[0].state == State.INIT


def test_admin_down_tells_the_peer_with_diag_7_and_ignores_it_afterwards():
    s = in_state(State.UP)
    out = s.admin_down(1.0)
    (pkt,) = out.packets
    assert (pkt.state, pkt.diag) == (State.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN)
    assert out.change is not None and out.change.new == State.ADMIN_DOWN
    s.on_packet(from_peer(State.UP), 1.1)
    assert s.state == State.ADMIN_DOWN and s.down_events == 1


# --- two sessions wired together ----------------------------------------------------------------


def test_two_sessions_come_up_with_one_three_way_handshake():
    pair = Pair.of(FAST)
    pair.run_until(0.1)
    assert pair.both_up()
    assert [c.new for _t, name, c in pair.changes if name == "a"] == [State.INIT, State.UP] \
        or [c.new for _t, name, c in pair.changes if name == "a"] == [State.UP]


def test_admin_down_takes_the_peer_down_with_diag_3_not_a_failure():
    pair = Pair.of(FAST)
    pair.run_until(0.5)
    pair.apply("a", pair.a.admin_down)
    pair.run_until(0.6)
    assert (pair.b.state, pair.b.diag) == (State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN)


configs = st.builds(
    SessionConfig.from_ms,
    st.integers(10, 2000), st.integers(10, 2000), st.integers(2, 10), st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(config_a=configs, config_b=configs, seed=st.integers(0, 2**16),
       delay=st.floats(0.0, 0.005), b_like_frr=st.booleans())
def test_two_sessions_always_come_up_and_stay_up(config_a, config_b, seed, delay, b_like_frr):
    if config_a.passive and config_b.passive:
        config_b = SessionConfig(config_b.desired_min_tx, config_b.required_min_rx,
                                 config_b.detect_mult, passive=False)
    pair = Pair.of(config_a, config_b, seed=seed, delay=delay)
    if b_like_frr:
        pair.frr_like.add("b")
    pair.run_until(5.0)  # one slow (1 s) round trip at most, with jitter
    assert pair.both_up()
    pair.run_until(30.0)
    assert pair.both_up() and pair.a.down_events == pair.b.down_events == 0


@settings(max_examples=150, deadline=None)
@given(config_a=configs, config_b=configs, seed=st.integers(0, 2**16),
       delay=st.floats(0.0, 0.005), silent_after=st.floats(0.0, 3.0))
def test_a_silent_peer_is_detected_down_within_the_detection_time(
        config_a, config_b, seed, delay, silent_after):
    config_a = SessionConfig(config_a.desired_min_tx, config_a.required_min_rx,
                             config_a.detect_mult, passive=False)
    pair = Pair.of(config_a, config_b, seed=seed, delay=delay)
    pair.run_until(10.0)
    assert pair.both_up()
    detection = pair.a.detection_time() / 1e6
    silent_at = pair.now + silent_after
    pair.silent_from["b"] = silent_at
    pair.run_until(silent_at + detection + delay + 1.0)
    downs = [t for t, name, c in pair.changes if name == "a" and c.new == State.DOWN]
    assert len(downs) == 1
    assert silent_at < downs[0] <= silent_at + detection + delay + 1e-9
    assert pair.a.diag == Diag.CONTROL_DETECTION_TIME_EXPIRED
