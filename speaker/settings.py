"""Every setting of the speaker and its default, written once.

`speaker/cli.py` reads its flag defaults from here; the daemon and the BGP backend
take their tunables from here (the driver's keyword defaults are these too), so a
default can never drift between the parser, the daemon and the driver. Fields without
a flag are tunables for tests and benchmarks; each says what it trades.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from metallb.daemon_cli import DaemonSettings
from speaker.bfd.client import DEFAULT_REALTIME_PRIORITY


@dataclass(frozen=True, kw_only=True)
class SpeakerSettings(DaemonSettings):
    """The speaker's settings; `node_name` is the only one without a default."""

    STATE_ROOT: ClassVar[str] = "/var/run/metallb-speaker"
    """Parent of the default state directory (the DaemonSet mounts a volume here)."""

    node_name: str
    bgp_backend: str = "exabgp"
    """"exabgp", or "none" for benchmarks only: no BGP, routes are only recorded and
    logged (`speaker.no_bgp`), so many speakers fit on one machine."""
    exabgp: str | None = None
    """ExaBGP executable, run as it is; None = the exabgp package of this Python,
    started through speaker/exabgp/launcher/."""
    exabgp_netns: str | None = None
    """Start ExaBGP inside this network namespace (tests and the lab)."""
    state_dir: str = ""
    """ExaBGP's config (0600), API socket and log; empty = STATE_ROOT/NODE."""

    # -- the daemon's tunables ------------------------------------------------------------
    metrics_refresh: float = 1.0
    """Seconds between session-metric refreshes when nothing changed."""
    event_qps: float = 20.0
    """Kubernetes Events per second at most (controller-runtime's default client rate,
    which upstream's speaker writes its events with)."""
    event_burst: int = 30
    """Events sent at once before `event_qps` applies."""
    announce_ahead_every: int = 1000
    """Announceable services planned before their host routes are sent ahead of the
    complete plan: lower starts large plans sooner, at more commands per plan."""
    services_logged_individually: int = 20
    """Up to this many services announced / withdrawn in one sync get a line each;
    more get one summary line (10,000 lines cost more than the announcements)."""
    sync_stop_timeout: float = 10.0
    """Seconds `stop` waits for the sync loop to finish its current sync."""

    # -- the ExaBGP backend's tunables ----------------------------------------------------
    exabgp_batch: int = 1000
    """Prefixes per ExaBGP API command line: ExaBGP's per-command overhead dominates
    (bench/exabgp_raw.py), and thousands of prefixes per line parse fine."""
    exabgp_group_updates: bool = True
    """ExaBGP's `group-updates`: prefixes with equal attributes share one UPDATE."""
    exabgp_restart_backoff: tuple[float, float] = (0.2, 10.0)
    """(first, longest) seconds before restarting an ExaBGP that died; doubles."""
    exabgp_stable_after: float = 30.0
    """An ExaBGP that ran this many seconds before dying restarts after the first delay."""
    exabgp_log_rotate_bytes: int = 4 * 1024 * 1024
    """exabgp.log becomes exabgp.log.1 as soon as the next line would take it past this
    size, while ExaBGP runs: the two never hold more than twice this (the state dir is
    a 32 Mi memory emptyDir)."""
    exabgp_start_timeout: float = 15.0
    """Seconds ExaBGP gets to start and connect its API relay."""
    withdraw_timeout: float = 5.0
    """Seconds to wait for ExaBGP's acks of withdraws (at stop, or a peer removed), and
    for ExaBGP to exit after SIGTERM."""
    exabgp_ack_timeout: float = 10.0
    """Seconds the driver's `flush` waits for ExaBGP's acks unless told otherwise."""
    exabgp_poll_interval: float = 0.5
    """Seconds between checks that ExaBGP still runs and that sessions came up."""
    establish_warn_after: float = 10.0
    """A session not up after this many seconds is logged once, with a hint."""

    # -- the BFD process's tunables -------------------------------------------------------
    bfd_realtime_priority: int = DEFAULT_REALTIME_PRIORITY
    """SCHED_FIFO priority of the BFD process (0: normal scheduling); the default's
    measurement is in speaker.bfd.client."""
    bfd_restart_backoff: tuple[float, float] = (0.2, 10.0)
    """(first, longest) seconds before restarting a BFD process that died; doubles,
    back to the first once one ran `exabgp_stable_after` seconds."""
    bfd_stats_timeout: float = 1.0
    """Seconds the BFD thread waits for the process's counters (a frozen process must
    not hold up the teardowns queued behind it for long)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.state_dir:
            object.__setattr__(self, "state_dir", f"{self.STATE_ROOT}/{self.node_name}")
