"""The invariant checker itself: each promise it guards is seen broken when it is."""

from __future__ import annotations

import json

from lab.harness.invariants import InvariantChecker, Snapshot
from lab.harness.observer import bgp_table
from lab.harness.transients import (
    Allowance,
    ApiEvent,
    FaultWindow,
    NodeMark,
    RouterSample,
    Timeline,
    explain,
    replay,
    timeline_from_json,
    timeline_to_json,
)

NODES = {"n0": "192.0.2.11", "n1": "192.0.2.12"}
BOTH = ("192.0.2.11", "192.0.2.12")


def svc(name, ips=(), uid=None, local=False, share=None, pool=None, port=80):
    annotations = {}
    if share:
        annotations["metallb.universe.tf/allow-shared-ip"] = share
    if pool:
        annotations["metallb.universe.tf/address-pool"] = pool
    return {"metadata": {"name": name, "namespace": "d", "uid": uid or name,
                         "annotations": annotations},
            "spec": {"type": "LoadBalancer", "ports": [{"port": port, "protocol": "TCP"}],
                     "externalTrafficPolicy": "Local" if local else "Cluster"},
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}


def eps(name, nodes, ready=True):
    return {"metadata": {"name": f"{name}-eps", "namespace": "d",
                         "labels": {"kubernetes.io/service-name": name}},
            "endpoints": [{"nodeName": n, "conditions": {"ready": ready}} for n in nodes]}


def checker():
    return InvariantChecker({"a": ("198.51.100.0/24",), "b": ("203.0.113.0-203.0.113.9",)},
                            NODES)


def test_a_converged_system_passes():
    snap = Snapshot((svc("x", ["198.51.100.1"]), svc("y", ["203.0.113.2"], local=True)),
                    (eps("x", ["n0", "n1"]), eps("y", ["n1"])),
                    {"198.51.100.1/32": BOTH, "203.0.113.2/32": ("192.0.2.12",)})
    verdict = checker().check(snap)
    assert verdict.converged, verdict.describe()
    assert (verdict.services, verdict.assigned) == (2, 2)


def test_changed_address_is_remembered_by_uid():
    c = checker()
    c.check(Snapshot((svc("x", ["198.51.100.1"]),), (), {}))
    verdict = c.check(Snapshot((svc("x", ["198.51.100.2"]),), (), {}))
    assert verdict.changed and not verdict.converged
    # A new service (new uid) with the old name may get any address.
    assert not c.check(Snapshot((svc("x", ["198.51.100.7"], uid="other"),), (), {})).changed


def test_duplicates_unless_validly_shared():
    c = checker()
    dup = c.check(Snapshot((svc("x", ["198.51.100.1"]), svc("y", ["198.51.100.1"])), (), {}))
    assert dup.duplicates
    shared = c.check(Snapshot((svc("p", ["198.51.100.3"], share="k"),
                               svc("q", ["198.51.100.3"], share="k", port=443)), (), {}))
    assert not shared.duplicates
    same_port = c.check(Snapshot((svc("r", ["198.51.100.4"], share="k"),
                                  svc("s", ["198.51.100.4"], share="k")), (), {}))
    assert same_port.duplicates


def test_outside_pool_and_wrong_pool():
    verdict = checker().check(Snapshot((svc("x", ["192.0.2.50"]),
                                        svc("y", ["198.51.100.9"], pool="b")), (), {}))
    assert len(verdict.outside_pool) == 2


def test_routes_missing_stale_and_wrong_nexthops():
    services = (svc("x", ["198.51.100.1"]), svc("y", ["198.51.100.2"]))
    slices = (eps("x", ["n0"]), eps("y", ["n0"]))
    verdict = checker().check(Snapshot(services, slices, {
        "198.51.100.2/32": ("192.0.2.11",),        # Cluster: both nodes expected
        "198.51.100.99/32": BOTH}))                # nobody holds it
    assert verdict.missing_routes == ("198.51.100.1/32",)
    assert verdict.wrong_nexthops and verdict.stale_routes
    # With n1's speaker down, only n0 should be announcing.
    down = checker().check(Snapshot(services[1:], slices[1:],
                                    {"198.51.100.2/32": ("192.0.2.11",)}), announcing=["n0"])
    assert down.converged


def test_no_ready_endpoint_means_no_route():
    snap = Snapshot((svc("x", ["198.51.100.1"]),), (eps("x", ["n0"], ready=False),),
                    {"198.51.100.1/32": BOTH})
    assert checker().check(snap).stale_routes


def test_unassigned_is_not_converged():
    verdict = checker().check(Snapshot((svc("x"),), (), {}))
    assert verdict.unassigned == ("d/x",) and not verdict.converged


# ------------------------------------------------- continuous figures (transients.py)
# Synthetic timelines: API events, router samples every 0.1 s, node marks and fault
# windows. Each figure the fault table reports is shown non-zero when it should be.

A, B = "192.0.2.11", "192.0.2.12"
ALLOW = Allowance(converge=2.0, hold_time=3.0)


def added(t, obj, resource="services", kind="ADDED"):
    return ApiEvent(t, resource, kind, obj)


def samples(start, stop, routes, sessions=BOTH, frr="same"):
    """Router samples every 0.1 s in [start, stop) all showing `routes`."""
    count = round((stop - start) / 0.1)
    return [RouterSample(round(start + i * 0.1, 3), routes,
                         routes if frr == "same" else frr, frozenset(sessions))
            for i in range(count)]


def run(events, sampled, marks=(), windows=(), end=None):
    return replay(Timeline(tuple(events), tuple(sampled), tuple(marks), tuple(windows), end),
                  NODES, ALLOW)


X = svc("x", ["198.51.100.1"])
X_ROUTE = {"198.51.100.1/32": BOTH}
X_EVENTS = [added(0.0, X), added(0.0, eps("x", ["n0", "n1"]), "endpointslices")]


def test_a_quick_announcement_is_an_episode_but_no_violation():
    seen = run(X_EVENTS, samples(0, 1, {}) + samples(1, 5, X_ROUTE))
    assert [(e.kind, e.table) for e in seen.episodes] == [
        ("missing", "frr"), ("missing", "frr"), ("missing", "kernel"), ("missing", "kernel")]
    assert not seen.violations
    figures = seen.figures()
    assert figures["longest_missing_s"] == 1.0 and figures["transient_violations"] == 0


def test_a_route_never_announced_is_a_violation_open_at_the_end():
    seen = run(X_EVENTS, samples(0, 5, {}))
    assert seen.violations and all(e.open_at_end and e.kind == "missing"
                                   for e in seen.violations)


def test_a_route_kept_after_the_service_is_deleted_is_a_stale_violation():
    gone = [added(1.0, X, kind="DELETED")]
    seen = run(X_EVENTS + gone, samples(0, 6, X_ROUTE))
    stale = [e for e in seen.violations if e.kind == "stale"]
    assert {e.hop for e in stale} == set(BOTH) and {e.table for e in stale} == {"frr", "kernel"}
    assert seen.figures()["transient_violations"] == 4


def test_a_withdrawal_within_the_allowance_is_no_violation():
    gone = [added(1.0, X, kind="DELETED")]
    seen = run(X_EVENTS + gone, samples(0, 2.5, X_ROUTE) + samples(2.5, 4, {}))
    assert seen.durations("stale") == [1.5, 1.5] and not seen.violations


def test_a_route_to_a_node_without_a_ready_endpoint_is_stale():
    y = svc("y", ["198.51.100.2"], local=True)
    events = [added(0.0, y), added(0.0, eps("y", ["n0"])),
              added(1.0, eps("y", ["n0"], ready=False), "endpointslices", "MODIFIED")]
    seen = run(events, samples(0, 5, {"198.51.100.2/32": (A,)}))
    assert [e.hop for e in seen.violations] == [A, A]


def test_an_address_that_changes_for_an_instant_counts():
    moved = svc("x", ["198.51.100.7"])
    events = [added(0.0, X), added(1.0, moved, kind="MODIFIED"), added(1.1, X, kind="MODIFIED")]
    seen = run(events, [])
    assert seen.figures()["addresses_changed"] == 1
    assert seen.addresses_changed == ("d/x: ['198.51.100.1'] -> ['198.51.100.7']",)


def test_a_duplicate_for_an_instant_counts_and_valid_sharing_does_not():
    events = [added(0.0, X), added(1.0, svc("y", ["198.51.100.1"])),
              added(1.1, svc("y", ["198.51.100.2"]), kind="MODIFIED"),
              added(2.0, svc("p", ["198.51.100.3"], share="k")),
              added(2.0, svc("q", ["198.51.100.3"], share="k", port=443))]
    seen = run(events, [])
    assert seen.duplicates == ("198.51.100.1: d/x, d/y",)
    assert seen.figures()["duplicates"] == 1


def test_a_route_via_a_node_that_went_down_is_excused_for_the_hold_time_only():
    down = [NodeMark(1.0, "n1", announcing=False)]
    only_a = {"198.51.100.1/32": (A,)}
    excused = run(X_EVENTS, samples(0, 4.5, X_ROUTE) + samples(4.5, 7, only_a), down)
    assert excused.durations("stale") == [3.5] and not excused.violations
    assert excused.episodes[0].excuse == "node down"
    kept = run(X_EVENTS, samples(0, 6.5, X_ROUTE) + samples(6.5, 8, only_a), down)
    assert [e.hop for e in kept.violations] == [B, B]


def test_a_route_stale_just_before_its_node_is_cut_off_is_excused_for_the_hold_time():
    """x deleted at 1.0, n1's link cut at 1.05, before its speaker could withdraw: the
    router keeps the route via n1 until its hold time expires (bench/faults.py, node
    faults, link_flap: 2.8-3.4 s against a 2 s allowance)."""
    gone = [added(1.0, X, kind="DELETED")]
    cut = [NodeMark(1.05, "n1", announcing=False)]
    via_b = {"198.51.100.1/32": (B,)}
    seen = run(X_EVENTS + gone, samples(0, 1.3, X_ROUTE) + samples(1.3, 4.2, via_b)
               + samples(4.2, 6, {}), cut)
    assert sorted((e.hop, round(e.duration, 1)) for e in seen.episodes
                  if e.kind == "stale") == [(A, 0.3), (A, 0.3), (B, 3.2), (B, 3.2)]
    assert not seen.violations
    assert {e.excuse for e in seen.episodes if e.hop == B} == {"node down"}


def test_a_withdrawal_already_late_when_the_node_is_cut_off_is_still_a_violation():
    gone = [added(1.0, X, kind="DELETED")]
    via_b = {"198.51.100.1/32": (B,)}
    timeline = samples(0, 1.3, X_ROUTE) + samples(1.3, 6.5, via_b) + samples(6.5, 8, {})
    late_cut = run(X_EVENTS + gone, timeline, [NodeMark(3.5, "n1", announcing=False)])
    assert [e.hop for e in late_cut.violations] == [B, B]
    assert {e.excuse for e in late_cut.violations} == {"converge"}
    # Cut in time, but the route outlives the hold time: a violation too.
    kept = run(X_EVENTS + gone, samples(0, 1.3, X_ROUTE) + samples(1.3, 8.5, via_b)
               + samples(8.5, 9, {}), [NodeMark(1.05, "n1", announcing=False)])
    assert [e.hop for e in kept.violations] == [B, B]


def test_a_route_not_yet_announced_when_a_session_fault_strikes_waits_for_the_session():
    """y created at 1.0, FRR restarted at 1.1 before the speakers announced it: the
    route can only come once the sessions are back (4.0) + converge; a fault that
    strikes after the route is already late excuses nothing."""
    y = svc("y", ["198.51.100.2"])
    events = [*X_EVENTS, added(1.0, y), added(1.0, eps("y", ["n0", "n1"]), "endpointslices")]
    both = {**X_ROUTE, "198.51.100.2/32": BOTH}
    restart = [FaultWindow(1.1, 1.3, "frr_restart", sessions=True)]
    outage = samples(1.1, 4.0, {}, sessions=(), frr=None)
    seen = run(events, samples(0, 1.1, X_ROUTE) + outage + samples(4.0, 5.0, X_ROUTE)
               + samples(5.0, 6.0, both), windows=restart)
    assert not seen.violations
    assert {e.excuse for e in seen.episodes if e.prefix == "198.51.100.2/32"} == {
        "frr_restart"}
    late = [FaultWindow(3.5, 3.7, "frr_restart", sessions=True)]
    lagging = run(events, samples(0, 3.5, X_ROUTE) + samples(3.5, 4.0, {}, sessions=(),
                                                               frr=None)
                  + samples(4.0, 6.0, both), windows=late)
    assert {e.prefix for e in lagging.violations} == {"198.51.100.2/32"}


def test_routes_missing_while_a_session_is_down_are_excused_until_it_is_back():
    """FRR restarted at 1.0 (healed at 1.2): sessions down until 4.0; routes are back
    at 5.5 (within converge of the session) in one run, never in the other."""
    window = [FaultWindow(1.0, 1.2, "frr_restart", sessions=True)]
    outage = samples(1, 4, {}, sessions=(), frr=None)
    back = samples(0, 1, X_ROUTE) + outage + samples(4, 5.5, {}) + samples(5.5, 7, X_ROUTE)
    seen = run(X_EVENTS, back, windows=window)
    assert not seen.violations and seen.durations("missing") == [4.5, 4.5]
    assert seen.figures()["longest_session_down_s"] == 3.0
    never = run(X_EVENTS, samples(0, 1, X_ROUTE) + outage + samples(4, 8, {}),
                windows=window)
    assert never.violations and {e.excuse for e in never.violations} == {"frr_restart"}


def test_frr_not_answering_keeps_its_episodes_open():
    gone = [added(1.0, X, kind="DELETED")]
    quiet = samples(0, 2, X_ROUTE) + samples(2, 5, X_ROUTE, frr=None)
    seen = run(X_EVENTS + gone, quiet + samples(5, 6, {}))
    assert {(e.table, round(e.duration, 1)) for e in seen.episodes} == {("frr", 4.0),
                                                                      ("kernel", 4.0)}


def test_the_longest_gap_between_samples_is_reported():
    seen = run(X_EVENTS, samples(0, 1, X_ROUTE) + samples(1.5, 2, X_ROUTE))
    assert round(seen.longest_gap, 2) == 0.6 and seen.samples == 15


def test_the_latest_of_two_covering_fault_windows_governs():
    """ExaBGP killed at 2.0 (back at 3.5), right after a speaker restart at 1.0 whose
    session was back at 1.5: the routes missing from 2.0 are the second fault's."""
    windows = [FaultWindow(0.5, 1.0, "speaker_kill9", sessions=True),
               FaultWindow(2.0, 2.0, "exabgp_kill9", sessions=True)]
    only_a = {"198.51.100.1/32": (A,)}
    down = samples(1.0, 1.5, only_a, sessions=(A,))
    flap = samples(2.0, 3.5, only_a, sessions=(A,))
    timeline = (samples(0, 1.0, X_ROUTE) + down + samples(1.5, 2.0, X_ROUTE) + flap
                + samples(3.5, 5.0, only_a) + samples(5.0, 6.0, X_ROUTE))
    seen = run(X_EVENTS, timeline, windows=windows)
    late = [e for e in seen.episodes if e.start >= 2.0]
    assert late and {e.excuse for e in late} == {"exabgp_kill9"} and not seen.violations


def test_a_gap_between_samples_alone_makes_no_violation():
    """Missing at one sample, then no sample for 3 s, then there: it may have lasted
    0.1 s or 3 s; it was never *seen* past its allowance."""
    seen = run(X_EVENTS, samples(0, 1, X_ROUTE) + samples(1, 1.1, {}) + samples(4.1, 5, X_ROUTE))
    assert [round(d, 2) for d in seen.durations("missing")] == [3.1, 3.1]
    assert not seen.violations
    kept = run(X_EVENTS, samples(0, 1, X_ROUTE) + samples(1, 3.5, {}) + samples(3.5, 4, X_ROUTE))
    assert len(kept.violations) == 4


def test_the_bgp_table_is_read_from_the_valid_paths():
    data = {"routes": {
        "198.51.100.1/32": [{"valid": True, "peerId": A, "nexthops": [{"ip": A}]},
                            {"valid": True, "peerId": B, "nexthops": [{"ip": B}]}],
        "198.51.100.2/32": [{"valid": False, "peerId": A, "nexthops": [{"ip": A}]}]}}
    assert bgp_table(data) == {"198.51.100.1/32": BOTH}
    assert bgp_table({}) == {}


def test_a_violation_is_explained_by_its_api_change_and_nearest_fault():
    gone = [added(1.0, X, kind="DELETED")]
    timeline = Timeline(tuple(X_EVENTS + gone), tuple(samples(0, 6, X_ROUTE)), (),
                        (FaultWindow(4.0, 4.5, "exabgp_kill9", sessions=True),), None)
    seen = replay(timeline, NODES, ALLOW)
    detail = explain(timeline, NODES, seen.violations)
    assert len(detail) == 4 and {d["node"] for d in detail} == {"n0", "n1"}
    first = detail[0]
    assert first["cause"]["change"].startswith("services DELETED d/x: ['192.0.2.11'")
    assert first["cause"]["t"] == 1.0 and first["nearest_fault"]["what"] == "exabgp_kill9"
    assert first["session"] == ["0.000 up"]


def test_a_recording_survives_json():
    timeline = Timeline(tuple(X_EVENTS), tuple(samples(0, 0.3, X_ROUTE)
                                               + samples(0.3, 0.5, {}, sessions=(), frr=None)),
                        (NodeMark(0.1, "n1", announcing=False),),
                        (FaultWindow(0.2, 0.3, "frr_restart", sessions=True),), 0.6)
    assert timeline_from_json(json.loads(json.dumps(timeline_to_json(timeline)))) == timeline
