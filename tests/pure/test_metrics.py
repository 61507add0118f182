import threading
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from metallb.metrics import AllocatorMetrics, BGPMetrics, K8sClientMetrics, SpeakerMetrics
from metallb.metrics_server import MetricsServer


def _scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


# rules A14 and C4
def test_metric_names_match_metallb_and_pool_series_are_removed():
    reg = CollectorRegistry()
    k8s = K8sClientMetrics(reg)
    alloc = AllocatorMetrics(reg)
    k8s.config_stale.set(1)
    k8s.updates.inc()
    alloc.publish({"pool1": (256, 3), "pool2": (16, 0)})
    ready = {"v": False}
    server = MetricsServer("127.0.0.1", 0, reg, ready=lambda: ready["v"]).start()
    try:
        code, text = _scrape(server.port)
        assert code == 200
        assert 'metallb_allocator_addresses_total{pool="pool1"} 256.0' in text
        assert 'metallb_allocator_addresses_in_use_total{pool="pool1"} 3.0' in text
        assert "metallb_k8s_client_config_stale_bool 1.0" in text
        assert "metallb_k8s_client_updates_total 1.0" in text
        assert "_created" not in text
        alloc.publish({"pool1": (256, 4)})
        _, text = _scrape(server.port)
        assert 'pool="pool2"' not in text
        assert _scrape(server.port, "/healthz")[0] == 200
        assert _scrape(server.port, "/readyz")[0] == 503
        ready["v"] = True
        assert _scrape(server.port, "/readyz")[0] == 200
        assert _scrape(server.port, "/nope")[0] == 404
    finally:
        server.stop()


# rule N12
def test_speaker_series_follow_the_announced_set():
    reg = CollectorRegistry()
    speaker = SpeakerMetrics(reg)
    bgp = BGPMetrics(reg)
    a = ("default/web", "bgp", "node1", "198.51.100.1")
    b = ("default/db", "bgp", "node1", "198.51.100.2")
    speaker.publish({a, b})
    speaker.publish({b})
    value = reg.get_sample_value
    c = ("default/db", "bgp", "node1", "198.51.100.3")
    speaker.change(added=[c], removed=[b])
    assert value("metallb_speaker_announced", dict(zip(
        ("service", "protocol", "node", "ip"), c, strict=True))) == 1.0
    speaker.change(added=[b], removed=[c])
    labels = dict(zip(("service", "protocol", "node", "ip"), a, strict=True))
    assert value("metallb_speaker_announced", labels) is None
    labels_b = dict(zip(("service", "protocol", "node", "ip"), b, strict=True))
    assert value("metallb_speaker_announced", labels_b) == 1.0
    bgp.session_up.labels("192.0.2.1").set(1)
    bgp.updates.labels("192.0.2.1").inc(3)
    assert value("metallb_bgp_updates_total", {"peer": "192.0.2.1"}) == 3.0
    bgp.forget_peer("192.0.2.1")
    assert value("metallb_bgp_session_up", {"peer": "192.0.2.1"}) is None


def test_pairs_of_one_protocol_and_node_are_the_same_series_as_their_4_tuples():
    reg = CollectorRegistry()
    speaker = SpeakerMetrics(reg)
    a = ("default/web", "bgp", "node1", "198.51.100.1")
    other_node = ("default/web", "bgp", "node2", "198.51.100.1")
    speaker.publish({other_node})
    speaker.change_pairs("bgp", "node1", added=[("default/web", "198.51.100.1"),
                                                ("default/db", "198.51.100.2")], removed=[])
    speaker.change(added=[], removed=[("default/db", "bgp", "node1", "198.51.100.2")])
    assert _announced(reg) == {a, other_node}
    speaker.change_pairs("bgp", "node2", added=[], removed=[("default/web", "198.51.100.1")])
    assert _announced(reg) == {a}


def _announced(reg: CollectorRegistry) -> set[tuple[str, ...]]:
    return {tuple(sample.labels[k] for k in SpeakerMetrics.LABELS)
            for family in reg.collect() if family.name == SpeakerMetrics.NAME
            for sample in family.samples}


def test_a_speaker_series_change_does_not_wait_for_a_scrape_under_way(
        monkeypatch: pytest.MonkeyPatch):
    reg = CollectorRegistry()
    speaker = SpeakerMetrics(reg)
    a = ("default/web", "bgp", "node1", "2001:db8:1::1")
    b = ("default/db", "bgp", "node1", "2001:db8:1::2")
    c = ("default/new", "bgp", "node1", "2001:db8:1::3")
    speaker.publish({a})
    rendering, release = threading.Event(), threading.Event()
    add_metric = GaugeMetricFamily.add_metric

    def held(self: GaugeMetricFamily, *args: object, **kwargs: object) -> None:
        rendering.set()
        release.wait(30)
        add_metric(self, *args, **kwargs)

    monkeypatch.setattr(GaugeMetricFamily, "add_metric", held)
    scraped: list[set[tuple[str, ...]]] = []
    scrape = threading.Thread(target=lambda: scraped.append(_announced(reg)))
    scrape.start()
    assert rendering.wait(30)
    changer = threading.Thread(target=lambda: (speaker.change(added=[b], removed=[a]),
                                               speaker.publish({b, c}),
                                               speaker.change(added=[a], removed=[c])))
    changer.start()
    changer.join(30)
    finished_during_scrape = not changer.is_alive()
    release.set()
    scrape.join(30)
    monkeypatch.undo()
    assert finished_during_scrape
    assert scraped == [{a}]  # the scrape renders the set as it was when it began
    assert _announced(reg) == {a, b}  # the next one sees every change, in order
