"""bench/cluster.py's core at a small size (3 speakers, 50 services), so the bench cannot
rot: every node's plan becomes final at the count computed from the objects, and the
emulator's counters saw the speakers' lists, watches and writes."""

from __future__ import annotations

from pathlib import Path

from bench import cluster


def test_three_speakers_reach_their_final_plans_and_their_requests_are_counted(
        tmp_path: Path) -> None:
    result = cluster.run(speakers=3, services=50, per_service=2, workdir=tmp_path,
                         steady=0.0, timeout=300.0)

    expected = cluster.expected_prefixes(50, 3, 2)
    assert sum(expected) == 100 and result["expected_prefixes"]["total"] == 100
    assert len(result["final_s"]) == 3 and result["not_final_after_steady"] == []
    node = cluster.per_node(result)
    assert node["start_lists"] > 0 and node["start_writes"] > 0 and node["start_mib"] > 0
    assert node["watches"] >= 3  # services, slices, its node at least
    assert all(rss > 0 for rss in result["rss_mib"])
    start = result["start"]
    for resource in ("services", "endpointslices"):
        assert start[(cluster.SPEAKER, "list", resource)][0] >= 3


def test_a_service_is_announced_by_the_nodes_of_its_endpoints() -> None:
    assert cluster.endpoint_nodes(4, 5, 3) == [4, 0, 1]
    assert cluster.endpoint_nodes(0, 2, 3) == [0, 1]  # never more nodes than there are
    assert cluster.expected_prefixes(5, 5, 3) == [3, 3, 3, 3, 3]


def test_the_speakers_priority_level_gets_its_share_of_the_default_concurrency() -> None:
    # ceil(600 * 100 / 245): 400 + 200 seats over the default levels' shares
    assert cluster.apf_seats("workload-low") == 245
