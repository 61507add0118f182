"""Which BGP backend the speaker runs, built from its settings: the one place that
names an implementation, so the daemon only knows `speaker.bgp.BGPBackend`."""

from __future__ import annotations

from speaker.bgp import BGPBackend, OnEvent
from speaker.cli import SpeakerSettings


def make_backend(settings: SpeakerSettings, node_addresses: list[str],
                 on_event: OnEvent) -> BGPBackend:
    """The ExaBGP driver (the only backend today), unstarted."""
    from speaker.exabgp import ExaBGPDriver

    return ExaBGPDriver(
        settings.state_dir, node_addresses,
        exabgp_cmd=[settings.exabgp] if settings.exabgp else None,
        netns=settings.exabgp_netns, on_event=on_event,
        log_level=settings.log_level.upper().replace("WARN", "WARNING"),
    )
