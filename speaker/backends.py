"""Which BGP backend the speaker runs, built from its settings: the one place that
names an implementation, so the daemon only knows `speaker.bgp.BGPBackend`."""

from __future__ import annotations

from speaker.bgp import BGPBackend, OnEvent
from speaker.settings import SpeakerSettings


def make_backend(settings: SpeakerSettings, node_addresses: list[str],
                 on_event: OnEvent) -> BGPBackend:
    """The backend `settings.bgp_backend` names, unstarted: the ExaBGP driver, or for
    benchmarks only the recorder that speaks no BGP (`speaker.no_bgp`)."""
    if settings.bgp_backend == "none":
        from speaker.no_bgp import NoBGPBackend

        return NoBGPBackend(settings.node_name, on_event)
    from speaker.exabgp.driver import ExaBGPDriver

    return ExaBGPDriver(
        settings.state_dir, node_addresses,
        exabgp_cmd=[settings.exabgp] if settings.exabgp else None,
        netns=settings.exabgp_netns, on_event=on_event, node_name=settings.node_name,
        log_level=settings.log_level.upper().replace("WARN", "WARNING"),
        group_updates=settings.exabgp_group_updates, batch=settings.exabgp_batch,
        restart_backoff=settings.exabgp_restart_backoff,
        establish_warn_after=settings.establish_warn_after,
        stable_after=settings.exabgp_stable_after,
        log_rotate_bytes=settings.exabgp_log_rotate_bytes,
        start_timeout=settings.exabgp_start_timeout,
        withdraw_timeout=settings.withdraw_timeout, ack_timeout=settings.exabgp_ack_timeout,
        poll_interval=settings.exabgp_poll_interval,
    )
