"""Every metric the daemons export, with MetalLB's names and help texts.

Each daemon instance owns its own registry (tests run several daemons in one process), so
metrics are grouped in small classes instead of module-level globals.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client import disable_created_metrics as _disable_created
from prometheus_client.core import GaugeMetricFamily, UntypedMetricFamily

# MetalLB exports no *_created series; dashboards and alerts do not expect them.
_disable_created()


class K8sClientMetrics:
    """The `metallb_k8s_client_*` family, shared by controller and speaker."""

    def __init__(self, registry: CollectorRegistry):
        self.updates = Counter(
            "metallb_k8s_client_updates_total",
            "Number of k8s object updates that have been processed.",
            registry=registry,
        )
        self.update_errors = Counter(
            "metallb_k8s_client_update_errors_total",
            "Number of k8s object updates that failed for some reason.",
            registry=registry,
        )
        self.config_loaded = Gauge(
            "metallb_k8s_client_config_loaded_bool",
            "1 if the MetalLB configuration was successfully loaded at least once.",
            registry=registry,
        )
        self.config_stale = Gauge(
            "metallb_k8s_client_config_stale_bool",
            "1 if running on a stale configuration, because the latest config failed to load.",
            registry=registry,
        )


class AllocatorMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.addresses_total = Gauge(
            "metallb_allocator_addresses_total",
            "Number of usable IP addresses, per pool",
            ["pool"],
            registry=registry,
        )
        self.addresses_in_use = Gauge(
            "metallb_allocator_addresses_in_use_total",
            "Number of IP addresses in use, per pool",
            ["pool"],
            registry=registry,
        )

    def publish(self, stats: dict[str, tuple[int, int]]) -> None:
        """Set per-pool (total, in_use); series of pools that no longer exist are removed."""
        for gauge in (self.addresses_total, self.addresses_in_use):
            for (pool,) in _label_sets(gauge):
                if pool not in stats:
                    gauge.remove(pool)
        for pool, (total, in_use) in stats.items():
            self.addresses_total.labels(pool).set(total)
            self.addresses_in_use.labels(pool).set(in_use)


class BGPMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.session_up = Gauge(
            "metallb_bgp_session_up",
            "BGP session state (1 is up, 0 is down)",
            ["peer"],
            registry=registry,
        )
        self.updates = Counter(
            "metallb_bgp_updates_total",
            "Number of BGP UPDATE messages sent",
            ["peer"],
            registry=registry,
        )
        self.announced_prefixes = Gauge(
            "metallb_bgp_announced_prefixes_total",
            "Number of prefixes currently being advertised on the BGP session",
            ["peer"],
            registry=registry,
        )
        self.pending_prefixes = Gauge(
            "metallb_bgp_pending_prefixes_total",
            "Number of prefixes that should be advertised on the BGP session",
            ["peer"],
            registry=registry,
        )

    def forget_peer(self, peer: str) -> None:
        for metric in (self.session_up, self.updates, self.announced_prefixes,
                       self.pending_prefixes):
            if (peer,) in _label_sets(metric):
                metric.remove(peer)


Series = tuple[str, str, str, str]  # (service, protocol, node, ip)
Pair = tuple[str, str]  # (service, ip)


class SpeakerMetrics:
    """`metallb_speaker_announced`, served from the announced set as it is at scrape time.

    A collector instead of a labelled Gauge: a speaker that starts announcing 10,000
    services would otherwise create 10,000 children, each validated by the client library
    (~70 us apiece), inside the sync loop that sends the routes.

    A scrape renders every series (O(series)); a change must cost only what it changed,
    even while a scrape of 100,000 series is under way. So the set is never copied, and
    the thread that changes it never waits for a scrape: changes go into a queue, and
    are applied to the set by whichever thread next holds the set's lock.

    Always holds: the series are `_announced` (per protocol and node, its non-empty set
    of (service, ip) pairs) with every queued entry applied in order (a replacement
    clears what was queued before it).
    Threads: the sync thread calls `publish`, `change` and `change_pairs`, the scrape
    thread `collect`.
    `_queue_lock` guards `_queued` and is held only to append to it or take it whole;
    `_set_lock` guards `_announced` and is held while the queue is applied and while a
    scrape renders. A change takes `_set_lock` only if it is free (it never blocks on
    it): during a scrape, changes wait in the queue until the scrape has rendered and
    the next change, or the next scrape, applies them.
    """

    NAME = "metallb_speaker_announced"
    HELP = ("Services being announced from this node. This is desired state, it does not "
            "guarantee that the routing protocols have converged.")
    LABELS = ("service", "protocol", "node", "ip")

    def __init__(self, registry: CollectorRegistry):
        self._queue_lock = threading.Lock()
        self._set_lock = threading.Lock()
        # (protocol, node) -> its (service, ip) pairs: a speaker has one protocol and one
        # node, so a series is held as the pair its plan made (shared, not copied: one
        # 4-tuple less per announced address, ~7 MiB at 100,000)
        self._announced: dict[tuple[str, str], set[Pair]] = {}
        # (groups to set whole, or None; group; pairs added; pairs removed), oldest first
        self._queued: list[tuple[dict[tuple[str, str], set[Pair]] | None,
                                 tuple[str, str] | None, tuple[Pair, ...], tuple[Pair, ...]]] = []
        registry.register(self)

    def publish(self, announced: Iterable[Series]) -> None:
        """Exactly these (service, protocol, node, ip) series exist afterwards, all at 1."""
        whole: dict[tuple[str, str], set[Pair]] = {}
        for service, protocol, node, ip in announced:
            whole.setdefault((protocol, node), set()).add((service, ip))
        with self._queue_lock:
            self._queued = [(whole, None, (), ())]
        self._apply_if_free()

    def change(self, added: Iterable[Series], removed: Iterable[Series]) -> None:
        """These series appear and these go; the others stay as they are."""
        groups: dict[tuple[str, str], tuple[list[Pair], list[Pair]]] = {}
        for index, series in enumerate((added, removed)):
            for service, protocol, node, ip in series:
                groups.setdefault((protocol, node), ([], []))[index].append((service, ip))
        for (protocol, node), (plus, minus) in groups.items():
            self.change_pairs(protocol, node, plus, minus)

    def change_pairs(self, protocol: str, node: str, added: Iterable[Pair],
                     removed: Iterable[Pair]) -> None:
        """`change` for the series of one protocol and node, given as (service, ip)
        pairs: the speaker hands over its plan's pairs, which are then held as they are."""
        entry = (None, (protocol, node), tuple(added), tuple(removed))
        with self._queue_lock:
            self._queued.append(entry)
        self._apply_if_free()

    def _apply_if_free(self) -> None:
        """Apply the queue now, unless a scrape holds the set (it is applied later)."""
        if self._set_lock.acquire(blocking=False):
            try:
                self._drain()
            finally:
                self._set_lock.release()

    def _drain(self) -> None:
        """Apply every queued entry to the set, oldest first (caller holds `_set_lock`)."""
        with self._queue_lock:
            queued, self._queued = self._queued, []
        for whole, group, added, removed in queued:
            if whole is not None or group is None:
                self._announced = whole or {}
                continue
            pairs = self._announced.setdefault(group, set())
            pairs.difference_update(removed)
            pairs.update(added)
            if not pairs:
                del self._announced[group]

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(self.NAME, self.HELP, labels=self.LABELS)]

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=self.LABELS)
        with self._set_lock:
            self._drain()
            for protocol, node in sorted(self._announced):
                for service, ip in sorted(self._announced[protocol, node]):
                    family.add_metric([service, protocol, node, ip], 1)
        return [family]


@dataclass(frozen=True)
class BfdSessionCounters:
    """One BFD session as the BFD process reports it (`stats`)."""

    up: bool
    control_packet_input: int
    control_packet_output: int
    session_up_events: int
    session_down_events: int


class BFDMetrics:
    """`metallb_bfd_*`, with the names and `peer` label of upstream's FRR-mode exporter
    (frr-metrics/collector/bfd.go, v0.12-v0.13), served from the last published stats.

    Upstream's counters carry no `_total` suffix; prometheus_client would add one to a
    counter's name, so the counters are exposed untyped under upstream's exact names
    (queries, rate() included, work the same). Echo counters are left out: we run no
    echo mode. Published by the speaker's thread, read by the scrape thread: publish
    swaps one immutable mapping, so no lock is needed."""

    SESSION_UP = ("metallb_bfd_session_up", "BFD session state (1 is up, 0 is down)")
    COUNTERS = (
        ("metallb_bfd_control_packet_input", "Number of received BFD control packets",
         "control_packet_input"),
        ("metallb_bfd_control_packet_output", "Number of sent BFD control packets",
         "control_packet_output"),
        ("metallb_bfd_session_up_events", "Number of BFD session up events",
         "session_up_events"),
        ("metallb_bfd_session_down_events", "Number of BFD session down events",
         "session_down_events"),
    )

    def __init__(self, registry: CollectorRegistry):
        self._sessions: Mapping[str, BfdSessionCounters] = {}
        registry.register(self)

    def publish(self, sessions: Mapping[str, BfdSessionCounters]) -> None:
        """Exactly these peers' series exist afterwards (peer address -> counters)."""
        self._sessions = dict(sessions)

    def describe(self) -> list[GaugeMetricFamily | UntypedMetricFamily]:
        return [GaugeMetricFamily(*self.SESSION_UP, labels=["peer"]),
                *(UntypedMetricFamily(name, text, labels=["peer"])
                  for name, text, _attr in self.COUNTERS)]

    def collect(self) -> list[GaugeMetricFamily | UntypedMetricFamily]:
        sessions = self._sessions
        up = GaugeMetricFamily(*self.SESSION_UP, labels=["peer"])
        families: list[GaugeMetricFamily | UntypedMetricFamily] = [up]
        for peer in sorted(sessions):
            up.add_metric([peer], 1 if sessions[peer].up else 0)
        for name, text, attr in self.COUNTERS:
            family = UntypedMetricFamily(name, text, labels=["peer"])
            for peer in sorted(sessions):
                family.add_metric([peer], getattr(sessions[peer], attr))
            families.append(family)
        return families


def _label_sets(metric: Gauge | Counter) -> set[tuple[str, ...]]:
    """Label value tuples of the children a labelled metric currently has."""
    # prometheus_client offers no public accessor for existing children.
    with metric._lock:
        return set(metric._metrics)
