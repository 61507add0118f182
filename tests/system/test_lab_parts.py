"""The lab's pure parts and its refusals, in-process (no root needed for these)."""

from __future__ import annotations

import pytest
import yaml

from lab import cluster
from lab.errors import LabError
from lab.objects import endpoint_slice, node_object, service_object
from lab.processes import LabProcess
from lab.prometheus import scrape_config
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
