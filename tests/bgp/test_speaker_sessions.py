"""The speaker's sessions as a user sees them: what it logs about a session that does
not come up, and what the router holds across password changes, against real FRR."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator

import pytest

from lab.harness.speaker_cluster import BASE_CONFIG, SpeakerCluster, speaker_cluster
from metallb.wait import poll_until

TIMEOUT = 20.0
NOWHERE = "192.0.2.99"  # on the node's segment, but no router answers there


@pytest.fixture(scope="module")
def cluster() -> Iterator[SpeakerCluster]:
    with speaker_cluster(1, start_speakers=False) as c:
        c.start_speaker(c.lab.nodes[0], establish_warn_after=1.0)
        poll_until(lambda: len(c.lab.router.established()) == 2, TIMEOUT,
                   what="IPv4 + IPv6 sessions Established")
        yield c


# rule N12: a session that stays down is logged once (by the backend, with its hint)
def test_session_not_established_is_logged_once(cluster, caplog):
    caplog.set_level(logging.INFO)
    config = copy.deepcopy(BASE_CONFIG)
    config["peers"].append({**config["peers"][0], "peer-address": NOWHERE})
    cluster.set_config(config)
    try:
        speaker = cluster.speakers["node0"]
        plans = poll_until(lambda: "event=bgp_session_not_established" in caplog.text
                           and speaker.plans, TIMEOUT, what="the stuck session reported")
        # The event reaches the daemon after the backend's line and makes it plan again.
        poll_until(lambda: speaker.plans > plans, TIMEOUT, what="the daemon saw the event")
        lines = [r.getMessage() for r in caplog.records
                 if "bgp_session_not_established" in r.getMessage()]
        assert len(lines) == 1, lines
        assert f"peer={NOWHERE}" in lines[0] and "hint=" in lines[0]
    finally:
        cluster.set_config(BASE_CONFIG)


# rule C6: keepalive-time cannot reach ExaBGP; the speaker says so once per peer
def test_keepalive_time_ignored_is_logged_once_per_peer(cluster, caplog):
    caplog.set_level(logging.INFO)
    config = copy.deepcopy(BASE_CONFIG)
    for peer in config["peers"]:
        peer["keepalive-time"] = "1s"
    cluster.set_config(config)
    speaker = cluster.speakers["node0"]
    try:
        poll_until(lambda: caplog.text.count("event=keepalive_time_ignored") == 2, TIMEOUT,
                   what="one line per peer")
        plans = speaker.plans
        cluster.service("ka", ["198.51.100.30"])  # more syncs: no more lines
        cluster.endpoints("ka", [cluster.lab.nodes[0]])
        poll_until(lambda: cluster.lab.nexthops("198.51.100.30/32") and speaker.plans > plans,
                   TIMEOUT, what="the service announced")
        lines = [r.getMessage() for r in caplog.records
                 if "event=keepalive_time_ignored" in r.getMessage()]
        assert len(lines) == 2, lines
        assert all("hold-time / 3 = 1s" in line for line in lines)
    finally:
        cluster.delete_service("ka")
        cluster.set_config(BASE_CONFIG)
