"""`metallb_bfd_*` with upstream's FRR-mode names and `peer` label."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from metallb.metrics import BFDMetrics, BfdSessionCounters


def exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_bfd_series_carry_upstream_names_without_a_total_suffix():
    registry = CollectorRegistry()
    metrics = BFDMetrics(registry)
    metrics.publish({"192.0.2.1": BfdSessionCounters(True, 10, 12, 1, 0),
                     "2001:db8::1": BfdSessionCounters(False, 3, 4, 1, 1)})
    text = exposition(registry)
    for line in (
        'metallb_bfd_session_up{peer="192.0.2.1"} 1.0',
        'metallb_bfd_session_up{peer="2001:db8::1"} 0.0',
        'metallb_bfd_control_packet_input{peer="192.0.2.1"} 10.0',
        'metallb_bfd_control_packet_output{peer="192.0.2.1"} 12.0',
        'metallb_bfd_session_up_events{peer="2001:db8::1"} 1.0',
        'metallb_bfd_session_down_events{peer="2001:db8::1"} 1.0',
        "# TYPE metallb_bfd_control_packet_input untyped",
    ):
        assert line in text
    assert "_total" not in text


def test_a_peer_that_is_gone_has_no_series():
    registry = CollectorRegistry()
    metrics = BFDMetrics(registry)
    metrics.publish({"192.0.2.1": BfdSessionCounters(True, 1, 1, 1, 0)})
    metrics.publish({})
    assert "192.0.2.1" not in exposition(registry)
