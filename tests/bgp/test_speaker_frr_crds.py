"""The speaker's rules against FRR (tests/bgp/test_speaker_frr.py) again, with the config
from metallb.io objects alone: the same tests, collected here with this module's
`cluster`, whose speakers start with no ConfigMap at all (issue 14: both sources, the
same tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.harness.config_objects import converted, install_crds, put_objects
from lab.harness.speaker_cluster import BASE_CONFIG, NAMESPACE, SpeakerCluster, speaker_cluster
from metallb.wait import poll_until
from tests.bgp.test_speaker_frr import (  # noqa: F401 - collected again, from CRDs
    TIMEOUT,
    test_aggregation_communities_and_ipv6,
    test_cluster_policy_ecmp_over_every_node_then_withdrawn,
    test_exclude_label_and_network_unavailable_remove_the_node,
    test_local_policy_follows_the_endpoint,
)

pytestmark = [pytest.mark.privileged]


@pytest.fixture(scope="module")
def cluster() -> Iterator[SpeakerCluster]:
    with speaker_cluster(3, start_speakers=False) as c:
        install_crds(c.api)
        put_objects(c.api, NAMESPACE, converted(BASE_CONFIG, NAMESPACE))
        c.core.delete_namespaced_config_map("metallb", NAMESPACE)
        for node in c.lab.nodes:
            c.start_speaker(node)
        poll_until(lambda: all(s.config_source.source == "crds" and s.config_source.current
                               for s in c.speakers.values()), TIMEOUT,
                   what="every speaker on the metallb.io objects")
        poll_until(lambda: len(c.lab.router.established()) == 6, TIMEOUT * 2,
                   what="3 nodes x (IPv4 + IPv6) sessions Established")
        yield c
