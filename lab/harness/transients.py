"""The continuous figures of a fault run: what was wrong *during* the rounds, and for how
long, not only whether the system converged after each fault was healed.

Pure: `replay` takes a `Timeline` recorded by lab/harness/observer.py (every version of
every Service and EndpointSlice the API stored, router snapshots every ~100 ms, the
nodes a scenario took down and the fault windows it declared) and replays it in time
order. At every router snapshot it recomputes, with the same independent rules as
invariants.py, which routes the API state seen so far calls for, and compares both of
the router's tables (FRR's BGP table: what the speakers announced; the kernel's: what
the router forwards by) with it. Each difference that persists across snapshots is one
`Episode`, with a start, an end, and the time until which it is excused (`Allowance`):
seen still there after that, it is a violation.

At every API event it checks the address promises: an address that changes for a
service (same uid) that had one, and an address held by two services that do not
validly share it, at any instant the API stored.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.harness.invariants import (
    duplicated_addresses,
    expected_routes,
    ingress_ips,
    load_balancers,
)
from metallb.keys import object_key

Routes = Mapping[str, tuple[str, ...]]  # "A.B.C.D/32" -> sorted next hops


@dataclass(frozen=True)
class ApiEvent:
    """One version of an object as the API stored it, at the time it was seen."""

    t: float
    resource: str  # "services" or "endpointslices"
    type: str  # ADDED, MODIFIED, DELETED
    obj: Mapping[str, Any]


@dataclass(frozen=True)
class RouterSample:
    """Both router tables and the Established BGP sessions (peer addresses, which are
    the nodes' next hops) at time `t`; `frr` / `sessions` are None when FRR did not
    answer (it is restarting)."""

    t: float
    kernel: Routes
    frr: Routes | None
    sessions: frozenset[str] | None = None


@dataclass(frozen=True)
class NodeMark:
    """From `t` on, the node's speaker is (not) expected to be announcing: a scenario
    marks a node down when it kills its speaker or cuts its link, up when it heals."""

    t: float
    node: str
    announcing: bool


@dataclass(frozen=True)
class FaultWindow:
    """A fault from `start` until it was healed at `end`. A difference that starts in
    the window (or within `Allowance.converge` before or after it) is excused until
    `end` + converge; if the fault takes BGP sessions down (`sessions`: a killed speaker or
    ExaBGP, FRR restarted, a link down), until the session of the difference's next
    hop is Established again (as the router's samples show) + converge: the time a
    session takes to come back is reported on its own (`session_down`), not judged."""

    start: float
    end: float
    what: str
    sessions: bool = False


@dataclass(frozen=True)
class Allowance:
    """How long a difference between the router and the API may last, in seconds, before
    it is a violation. The one home of these figures; the README quotes them."""

    converge: float = 2.0
    """From a change seen in the API (a service assigned or deleted, an endpoint turning
    ready or not), the end of a fault, or a BGP session Established again, until the
    router's tables show it."""
    hold_time: float = 3.0
    """A route via a node that stopped announcing (speaker killed, link down) stays until
    the BGP hold time expires; it may last hold_time + converge from the node going
    down, also when it became stale shortly before (within converge: the withdrawal
    was not late yet when the link was cut)."""


@dataclass(frozen=True)
class Episode:
    """One difference between one router table and the API state, while it lasted."""

    table: str  # "kernel" or "frr"
    kind: str  # "stale" (a next hop the API does not call for) or "missing"
    prefix: str
    hop: str
    start: float  # the first sample that showed it
    end: float  # the first sample that no longer did (or the end of the timeline)
    last_seen: float  # the last sample that showed it
    allowed_until: float
    excuse: str  # "converge", "node down" or the fault window's `what`
    open_at_end: bool = False

    @property
    def duration(self) -> float:
        """At most this long (it may have ended anywhere after `last_seen`)."""
        return self.end - self.start

    @property
    def violation(self) -> bool:
        """Seen still there after its allowance (a gap between samples alone never
        makes one)."""
        return self.last_seen > self.allowed_until


@dataclass(frozen=True)
class Timeline:
    events: tuple[ApiEvent, ...]
    samples: tuple[RouterSample, ...]
    marks: tuple[NodeMark, ...] = ()
    windows: tuple[FaultWindow, ...] = ()
    end: float | None = None  # default: the last sample


@dataclass(frozen=True)
class Transients:
    """What `replay` found over a whole timeline."""

    episodes: tuple[Episode, ...]
    addresses_changed: tuple[str, ...]  # one per service uid: "ns/name: [a] -> [b]"
    duplicates: tuple[str, ...]  # each distinct "ip: ns/a, ns/b" seen at some instant
    samples: int
    longest_gap: float  # the longest time between two router samples
    session_down: tuple[float, ...] = ()  # each time a node's session was down, seconds
    median_gap: float = 0.0

    @property
    def violations(self) -> tuple[Episode, ...]:
        return tuple(e for e in self.episodes if e.violation)

    def durations(self, kind: str, table: str = "kernel") -> list[float]:
        return sorted(e.duration for e in self.episodes
                      if e.kind == kind and e.table == table)

    def figures(self) -> dict[str, Any]:
        """The per-scenario figures bench/faults.py prints and the README quotes."""
        out: dict[str, Any] = {
            "transient_violations": len(self.violations),
            "transient_episodes": len(self.episodes),
            "addresses_changed": len(self.addresses_changed),
            "duplicates": len(self.duplicates),
            "router_samples": self.samples,
            "session_down_episodes": len(self.session_down),
            "longest_session_down_s": round(max(self.session_down, default=0.0), 3),
            "median_sample_gap_s": round(self.median_gap, 3),
            "longest_sample_gap_s": round(self.longest_gap, 3),
        }
        for kind in ("stale", "missing"):
            values = self.durations(kind)
            out[f"{kind}_episodes"] = len(values)
            out[f"longest_{kind}_s"] = round(values[-1], 3) if values else 0.0
            out[f"median_{kind}_s"] = round(statistics.median(values), 3) if values else 0.0
        return out


@dataclass
class _State:
    """The replay's view of the API and the nodes at the current instant."""

    nodes: Mapping[str, str]
    services: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    slices: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    down_since: dict[str, float] = field(default_factory=dict)
    first_ips: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    changed: dict[str, str] = field(default_factory=dict)
    duplicates: set[str] = field(default_factory=set)

    def apply(self, event: ApiEvent) -> None:
        table = self.services if event.resource == "services" else self.slices
        key = object_key(event.obj)
        if event.type == "DELETED":
            table.pop(key, None)
            return
        table[key] = event.obj
        if event.resource == "services":
            self._check_addresses(event.obj)

    def mark(self, mark: NodeMark) -> None:
        if mark.announcing:
            self.down_since.pop(mark.node, None)
        else:
            self.down_since.setdefault(mark.node, mark.t)

    def _check_addresses(self, svc: Mapping[str, Any]) -> None:
        if not load_balancers([svc]):
            return
        key, ips = object_key(svc), ingress_ips(svc)
        uid = str((svc.get("metadata") or {}).get("uid") or key)
        first = self.first_ips.get(uid)
        if first is None:
            if ips:
                self.first_ips[uid] = (key, ips)
        elif ips != first[1] and uid not in self.changed:
            self.changed[uid] = f"{key}: {list(first[1])} -> {list(ips)}"
        self.duplicates.update(duplicated_addresses(load_balancers(self.services.values())))

    def expected(self) -> dict[str, set[str]]:
        live = {n for n in self.nodes if n not in self.down_since}
        return expected_routes(load_balancers(self.services.values()),
                               self.slices.values(), live, self.nodes)


def _stream(timeline: Timeline, samples: bool) -> list[tuple[float, int, Any]]:
    """(t, order, item) in time order: API events (0) before node marks (1) before
    router samples (2) at the same instant."""
    stream: list[tuple[float, int, Any]] = [(e.t, 0, e) for e in timeline.events]
    stream += [(m.t, 1, m) for m in timeline.marks]
    if samples:
        stream += [(s.t, 2, s) for s in timeline.samples]
    stream.sort(key=lambda item: (item[0], item[1]))
    return stream


def differences(router: Routes, expected: Mapping[str, set[str]]) -> set[tuple[str, str, str]]:
    """(kind, prefix, hop) for every next hop the router holds that `expected` does not
    call for ("stale"; a route without a next hop is stale with hop "") and every
    expected next hop it lacks ("missing")."""
    out = set()
    for prefix, hops in router.items():
        wanted = expected.get(prefix, set())
        out.update(("stale", prefix, hop) for hop in hops or ("",) if hop not in wanted)
    for prefix, hops in expected.items():
        held = set(router.get(prefix, ()))
        out.update(("missing", prefix, hop) for hop in hops if hop not in held)
    return out


def replay(timeline: Timeline, nodes: Mapping[str, str],
           allowance: Allowance = Allowance()) -> Transients:
    """Replay `timeline` (see the module docstring); `nodes`: name -> next hop."""
    state = _State(nodes)
    by_hop = {hop: name for name, hop in nodes.items()}
    open_: dict[tuple[str, str, str, str], list[Any]] = {}  # key -> [start, down, last]
    raw: list[tuple[tuple[str, str, str, str], float, float | None, float, float, bool]] = []
    for t, order, item in _stream(timeline, samples=True):
        if order == 0:
            state.apply(item)
        elif order == 1:
            state.mark(item)
        else:
            expected = state.expected()
            for table, routes in (("kernel", item.kernel), ("frr", item.frr)):
                if routes is None:
                    continue  # FRR did not answer: its open episodes go on
                now = {(table, *d) for d in differences(routes, expected)}
                for key in [k for k in open_ if k[0] == table and k not in now]:
                    raw.append((key, *open_.pop(key), t, False))
                for key in now:
                    if key in open_:
                        open_[key][2] = t
                    else:
                        open_[key] = [t, state.down_since.get(by_hop.get(key[3], "")), t]
    times = [s.t for s in timeline.samples]
    end = timeline.end if timeline.end is not None else (times[-1] if times else 0.0)
    raw += [(key, start, down, last, end, True) for key, (start, down, last) in open_.items()]
    sessions = _Sessions(timeline.samples)
    episodes = []
    for key, start, down, last, stop, at_end in raw:
        if key[1] == "stale" and down is None:
            down = _went_down(timeline.marks, by_hop.get(key[3], ""), start,
                              start + allowance.converge)
        if key[1] == "stale" and down is not None:
            until, why = down + allowance.hold_time + allowance.converge, "node down"
        else:
            until, why = _excuse(timeline.windows, sessions, key[3], start, allowance)
        episodes.append(Episode(*key, start, stop, last, until, why, at_end))
    episodes.sort(key=lambda e: (e.start, e.table, e.kind, e.prefix, e.hop))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return Transients(tuple(episodes), tuple(state.changed.values()),
                      tuple(sorted(state.duplicates)), len(times), max(gaps, default=0.0),
                      sessions.down_durations(nodes.values(), end),
                      statistics.median(gaps) if gaps else 0.0)


def _went_down(marks: Iterable[NodeMark], node: str, after: float,
               until: float) -> float | None:
    """When `node` was marked down after `after` and at or before `until`, if it was: a
    stale route via a node whose link is cut (or speaker killed) while its withdrawal is
    still within its allowance can only go when the router's hold time expires."""
    return next((m.t for m in marks
                 if m.node == node and not m.announcing and after < m.t <= until), None)


def _excuse(windows: Iterable[FaultWindow], sessions: _Sessions, hop: str, start: float,
            allowance: Allowance) -> tuple[float, str]:
    """Until when a difference via `hop` that started at `start` is excused, and why:
    the latest of what every fault window covering it allows (a fault may follow the
    recovery from the previous one closely), else `converge` from its start. A window
    covers a difference from `converge` before its start (a fault that strikes while
    the difference is still within its allowance governs it: the route cannot move
    while the session is down) until `converge` after its recovery."""
    best = (start + allowance.converge, "converge")
    for w in windows:
        if w.start > start + allowance.converge:
            continue
        recovered = w.end
        if w.sessions:
            recovered = max(recovered, sessions.back_up(hop, w.start,
                                                        w.end + allowance.converge))
        if start <= recovered + allowance.converge:
            best = max(best, (recovered + allowance.converge, w.what))
    return best


class _Sessions:
    """When each next hop's BGP session was Established, from the router samples (a
    sample where FRR did not answer counts as every session down)."""

    def __init__(self, samples: Iterable[RouterSample]):
        self.samples = list(samples)
        self.times = [s.t for s in self.samples]

    def _up(self, sample: RouterSample, hop: str) -> bool:
        return sample.sessions is not None and hop in sample.sessions

    def back_up(self, hop: str, since: float, seen_down_by: float) -> float:
        """The first time after `since` the session is seen Established after being seen
        down (at or before `seen_down_by`); `since` if it was not seen down by then;
        infinity if it never came back."""
        down = False
        for sample in self.samples[bisect.bisect_left(self.times, since):]:
            if not self._up(sample, hop):
                down = True
            elif down:
                return sample.t
            elif sample.t > seen_down_by:
                return since
        return float("inf") if down else since

    def down_durations(self, hops: Iterable[str], end: float) -> tuple[float, ...]:
        """How long each session-down period lasted (one still going at `end` too)."""
        out = []
        for hop in hops:
            since = None
            for sample in self.samples:
                if not self._up(sample, hop):
                    since = sample.t if since is None else since
                elif since is not None:
                    out.append(sample.t - since)
                    since = None
            if since is not None:
                out.append(end - since)
        return tuple(sorted(out))


def describe(episodes: Iterable[Episode], limit: int = 8) -> str:
    """A short human line per episode, for failure messages."""
    return "; ".join(f"{e.table} {e.kind} {e.prefix} via {e.hop or '-'} for "
                     f"{e.duration:.2f}s ({e.excuse}, allowed {e.allowed_until - e.start:.2f}s)"
                     for e in list(episodes)[:limit])


def timeline_to_json(timeline: Timeline) -> dict[str, Any]:
    """A recording as plain JSON (bench/faults.py --save-timeline), so a run can be
    replayed again later, say with other rules, without running it again."""
    return {
        "events": [[e.t, e.resource, e.type, e.obj] for e in timeline.events],
        "samples": [[s.t, s.kernel, s.frr, None if s.sessions is None else sorted(s.sessions)]
                    for s in timeline.samples],
        "marks": [[m.t, m.node, m.announcing] for m in timeline.marks],
        "windows": [[w.start, w.end, w.what, w.sessions] for w in timeline.windows],
        "end": timeline.end,
    }


def timeline_from_json(data: Mapping[str, Any]) -> Timeline:
    """The inverse of `timeline_to_json`."""
    def routes(table: Mapping[str, list[str]] | None) -> Routes | None:
        return None if table is None else {p: tuple(h) for p, h in table.items()}

    return Timeline(
        tuple(ApiEvent(*e) for e in data["events"]),
        tuple(RouterSample(t, routes(k) or {}, routes(f),
                           None if s is None else frozenset(s))
              for t, k, f, s in data["samples"]),
        tuple(NodeMark(*m) for m in data["marks"]),
        tuple(FaultWindow(*w) for w in data["windows"]),
        data["end"])


def explain(timeline: Timeline, nodes: Mapping[str, str],
            episodes: Iterable[Episode]) -> list[dict[str, Any]]:
    """Per episode (meant for the violations), what is needed to tell a slow speaker
    from a wrong allowance, times in seconds since the recording's first sample: the
    episode itself, the node of its next hop, the last API change before its start that
    changed what the API calls for its prefix (`cause`), the fault window nearest to
    it, the node marks and its next hop's session changes from 10 s before the change
    until its end."""
    t0 = timeline.samples[0].t if timeline.samples else 0.0
    by_hop = {hop: name for name, hop in nodes.items()}
    history = _route_history(timeline, nodes)
    out = []
    for e in episodes:
        changes = history.get(e.prefix, [])
        i = bisect.bisect_right([c[0] for c in changes], e.start) - 1
        cause = changes[i] if i >= 0 else None
        since = (cause[0] if cause else e.start) - 10.0
        nearest = min(timeline.windows, default=None,
                      key=lambda w: max(w.start - e.start, e.start - w.end, 0.0))
        out.append({
            "table": e.table, "kind": e.kind, "prefix": e.prefix, "hop": e.hop,
            "node": by_hop.get(e.hop, ""), "start": round(e.start - t0, 3),
            "last_seen": round(e.last_seen - t0, 3), "end": round(e.end - t0, 3),
            "duration_s": round(e.duration, 3),
            "allowed_s": round(e.allowed_until - e.start, 3), "excuse": e.excuse,
            "cause": None if cause is None else {
                "t": round(cause[0] - t0, 3), "change": cause[1],
                "before_start_s": round(e.start - cause[0], 3)},
            "nearest_fault": None if nearest is None else {
                "what": nearest.what, "start": round(nearest.start - t0, 3),
                "end": round(nearest.end - t0, 3), "sessions": nearest.sessions},
            "marks": [f"{m.t - t0:.3f} {m.node} {'up' if m.announcing else 'down'}"
                      for m in timeline.marks if since <= m.t <= e.end],
            "session": _session_changes(timeline.samples, e.hop, since, e.end, t0),
            "longest_sample_gap_s": round(_longest_gap(timeline.samples, since + 10.0,
                                                       e.end), 3),
        })
    return out


def _route_history(timeline: Timeline,
                   nodes: Mapping[str, str]) -> dict[str, list[tuple[float, str]]]:
    """prefix -> [(t, "what changed")] for every API event or node mark that changed
    the next hops the API calls for that prefix."""
    state = _State(nodes)
    before: dict[str, set[str]] = {}
    out: dict[str, list[tuple[float, str]]] = {}
    for t, order, item in _stream(timeline, samples=False):
        if order == 0:
            state.apply(item)
            what = f"{item.resource} {item.type} {object_key(item.obj)}"
        else:
            state.mark(item)
            what = f"node {item.node} {'up' if item.announcing else 'down'}"
        now = state.expected()
        for prefix in set(before) | set(now):
            old, new = before.get(prefix, set()), now.get(prefix, set())
            if old != new:
                out.setdefault(prefix, []).append(
                    (t, f"{what}: {sorted(old)} -> {sorted(new)}"))
        before = now
    return out


def _longest_gap(samples: Iterable[RouterSample], since: float, until: float) -> float:
    times = [s.t for s in samples if since <= s.t <= until]
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def _session_changes(samples: Iterable[RouterSample], hop: str, since: float, until: float,
                     t0: float) -> list[str]:
    """'t up|down|no answer' each time the hop's session was seen changing."""
    out, last = [], None
    for s in samples:
        if s.t > until:
            break
        state = "no answer" if s.sessions is None else (
            "up" if hop in s.sessions else "down")
        if state != last and s.t >= since:
            out.append(f"{s.t - t0:.3f} {state}")
        last = state
    return out
