"""The lab's pure parts and its refusals, in-process (no root needed for these)."""

from __future__ import annotations

import pytest
import yaml

from lab import cluster
from lab.errors import LabError
from lab.objects import endpoint_slice, node_object, service_object
from lab.ports import DAEMON_METRICS, PROMETHEUS_LISTENING, logged_address, port_of
from lab.processes import LabProcess
from lab.prometheus import scrape_config
from lab.routes import parse_routes
from lab.state import LabNode, LabState, load, save
from lab.summary import format_status


def test_node_object_carries_packet_bgp_annotations():
    node = node_object("node1", "192.0.2.12", "192.0.2.1")
    annotations = node["metadata"]["annotations"]
    assert annotations == {
        "metal.equinix.com/node-asn": "64513", "metal.equinix.com/peer-asn": "64512",
        "metal.equinix.com/peer-ip": "192.0.2.1", "metal.equinix.com/src-ip": "192.0.2.12"}
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node1"


def test_service_and_endpoint_slice_match_each_other():
    svc = service_object("nginx", pool="pool2")
    assert svc["metadata"]["annotations"] == {"metallb.universe.tf/address-pool": "pool2"}
    assert service_object("web")["metadata"]["annotations"] == {}
    eps = endpoint_slice("nginx", ["node0", "node1"])
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "nginx"
    assert [e["nodeName"] for e in eps["endpoints"]] == ["node0", "node1"]
    assert all(e["conditions"]["ready"] for e in eps["endpoints"])


def test_scrape_config_labels_each_target():
    doc = yaml.safe_load(scrape_config({"controller": "127.0.0.1:1",
                                        "speaker-node0": "127.0.0.1:2"}))
    assert doc["global"]["scrape_interval"] == "1s"
    configs = doc["scrape_configs"][0]["static_configs"]
    assert configs == [
        {"targets": ["127.0.0.1:1"], "labels": {"component": "controller"}},
        {"targets": ["127.0.0.1:2"], "labels": {"component": "speaker", "node": "node0"}},
    ]


def test_state_file_round_trip(tmp_path):
    state = LabState(state_dir=str(tmp_path), prefix="mltx", kubeconfig="k",
                     router_namespace="mltxr", router_address="192.0.2.1", frr_dir="f",
                     nodes=(LabNode("node0", "mltxn0", "192.0.2.11"),),
                     processes=(LabProcess("apiserver", 42, 7, "log"),),
                     metrics={"controller": "127.0.0.1:9"}, prometheus_url=None,
                     complete=True)
    save(state)
    assert load(tmp_path) == state
    (tmp_path / "lab.json").write_text("{not json")
    assert load(tmp_path) is None


def test_a_dead_pid_or_a_recycled_one_is_not_running():
    import os

    from lab.processes import start_ticks

    me = os.getpid()
    assert LabProcess("me", me, start_ticks(me) or 0, "").running()
    assert not LabProcess("recycled", me, (start_ticks(me) or 0) + 1, "").running()


def test_refuses_without_root(monkeypatch):
    monkeypatch.setattr(cluster.os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        cluster.preflight(False)


def test_refuses_without_frr_and_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(cluster.os, "geteuid", lambda: 0)
    monkeypatch.setattr(cluster, "FRR_LIBDIR", tmp_path)
    with pytest.raises(LabError, match=r"FRR is not installed.*apt-get install -y frr"):
        cluster.preflight(False)


def test_refuses_too_many_nodes():
    with pytest.raises(LabError, match="--nodes 9"):
        cluster.up(cluster.UpOptions(nodes=9))


def test_refuses_a_state_dir_that_is_not_a_lab(tmp_path):
    (tmp_path / "precious.txt").write_text("mine")
    with pytest.raises(LabError, match="not a lab directory"):
        cluster._make_state_dir(tmp_path)
    assert (tmp_path / "precious.txt").exists()


def test_format_status_names_everything():
    text = format_status({
        "state_dir": "/tmp/x", "kubeconfig": "/tmp/x/kubeconfig",
        "router": {"namespace": "mlabr", "address": "192.0.2.1",
                   "vtysh_socket_dir": "/tmp/x/frr"},
        "prometheus_url": None,
        "nodes": [{"name": "node0", "namespace": "mlabn0", "address": "192.0.2.11"}],
        "sessions": [{"node": "node0", "peer": "192.0.2.1", "state": "Active"}],
        "processes": [{"name": "controller", "pid": 5, "running": False, "log": "/l",
                       "metrics": None}],
        "complete": True,
    })
    assert "node0" in text and "Active" in text and "NOT RUNNING" in text
    assert "vtysh --vty_socket /tmp/x/frr" in text


def test_refuses_a_state_dir_frr_cannot_reach(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(LabError, match=r"not traversable.*chmod o\+x"):
        cluster._make_state_dir(closed / "lab")
    assert not (closed / "lab").exists()


def test_route_parser_normalises_host_routes_and_sorts_next_hops():
    text = (
        '[{"dst":"198.51.100.20","protocol":"bgp","nexthops":['
        '{"gateway":"192.0.2.12","dev":"br0"},{"gateway":"192.0.2.11","dev":"br0"}]},'
        '{"dst":"203.0.113.0/25","gateway":"192.0.2.11","protocol":"bgp"},'
        '{"dst":"default","dev":"lo"}]'
    )
    assert parse_routes(text) == {"198.51.100.20/32": ("192.0.2.11", "192.0.2.12"),
                                  "203.0.113.0/25": ("192.0.2.11",), "default": ()}
    assert parse_routes('[{"dst":"2001:db8:1::1","gateway":"2001:db8:ffff::2"}]', 6) == {
        "2001:db8:1::1/128": ("2001:db8:ffff::2",)}
    assert parse_routes("") == {}


@pytest.mark.parametrize(("line", "pattern", "address"), [
    ("ts=2026-01-01T13:46:33.403 level=info logger=controller event=started identity=c1 "
     "metrics=127.0.0.1:40321 leader_election=false", DAEMON_METRICS, "127.0.0.1:40321"),
    ('event=speaker_started node=node0 metrics="127.0.0.1:7472" exabgp_netns=-',
     DAEMON_METRICS, "127.0.0.1:7472"),
    ('ts=2026-01-01T13:46:33.906Z caller=tls_config.go:232 level=info component=web '
     'msg="Listening on" address=127.0.0.1:42885', PROMETHEUS_LISTENING, "127.0.0.1:42885"),
])
def test_the_bound_port_is_read_back_from_the_start_line(tmp_path, line, pattern, address):
    log = tmp_path / "daemon.log"
    assert logged_address(log, pattern) is None  # not written yet
    log.write_text("ts=2026-01-01T13:46:33.100 level=info event=starting port=0\n")
    assert logged_address(log, pattern) is None  # not listening yet
    log.write_text(log.read_text() + line + "\n")
    assert logged_address(log, pattern) == address
    assert port_of(address) in (40321, 7472, 42885)
