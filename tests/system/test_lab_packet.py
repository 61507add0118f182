"""The Packet topology (`metallb lab up --topology packet`): the seed's component config
deployed into a lab shaped like Packet's BGP setup. Every BGP value reaches the cluster
only through the Nodes' metal.equinix.com/* annotations, read by the component's default
autodiscovery; sessions cross a gateway (eBGP multihop) to two provider routers at
169.254.255.1 and .2 with the project's MD5 password."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from lab.cluster import UpOptions, down, status, up
from lab.netns import ip
from lab.packet import PROJECT_PASSWORD, ROUTER_PEER_IPS
from lab.routers.kinds import make_router
from lab.routers.upstream import lab_routers
from lab.running import RunningLab
from lab.state import LabState
from metallb.wait import poll_until
from tests.support.component import SEED_BLOCK
from tests.system.support import require_lab

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(300)]


def wait(fn, what: str, timeout: float = 30.0):
    return poll_until(fn, timeout, what=what)


def reconfigure(state: LabState, index: int, password: str) -> None:
    """Restart provider router `index` with another project password."""
    from lab.packet import PacketTopology

    topology = PacketTopology(len(state.nodes), prefix=state.prefix)
    router, spec = lab_routers(state.routers[index].kind, topology,
                               Path(state.state_dir))[index]
    handle = make_router(router.kind, router.namespace, replace(spec, password=password),
                         router.state_dir)
    handle.stop()
    handle.start()


def test_seed_config_on_the_packet_topology_survives_one_router_and_names_a_bad_password():
    require_lab()
    parent = Path(tempfile.mkdtemp(prefix="mlp"))
    parent.chmod(0o711)
    config = parent / "seed.lokocfg"
    config.write_text(SEED_BLOCK)
    options = UpOptions(nodes=3, config=str(config), state_dir=str(parent / "lab"),
                        prefix=f"mlp{os.getpid()}", topology="packet", timeout=60,
                        prometheus_operator=True)  # the seed has service_monitor = true
    state = up(options, progress=lambda _line: None)
    try:
        report = status(state.state_dir)
        assert report["router"]["topology"] == "packet"
        assert [r["address"] for r in report["router"]["routers"]] == list(ROUTER_PEER_IPS)
        assert {(s["node"], s["peer"], s["state"]) for s in report["sessions"]} == {
            (f"node{i}", peer, "Established") for i in range(3) for peer in ROUTER_PEER_IPS}
        for node in state.nodes:  # the routers are reached through the gateway only
            route = ip("-n", node.namespace, "route", "get", ROUTER_PEER_IPS[0]).stdout
            assert "via 192.0.2.1 " in route  # the gateway, not the router's own link

        with RunningLab(state) as lab:
            r1, r2 = lab.routers
            lab.create_service("nginx", "pool2")
            (address,) = wait(lambda: lab.service_addresses("nginx"), "an address")
            nodes = lab.node_addresses
            prefix = f"{address}/32"
            for router in (r1, r2):
                assert wait(lambda r=router: r.kernel_nexthops(prefix) == nodes,
                            f"ECMP over every node at {router.netns}")
                assert {p.as_path for p in router.paths(prefix)} == {(65000,)}
            lab.start_responders(address)
            wait(lab.responders_listening, "responders")
            for router in (r1, r2):
                answers = lab.probe(address, 20, netns=router.netns)
                assert sum(answers.values()) == 20 and not any(
                    who.startswith("error") for who in answers), answers

            r1.stop()  # one provider router lost: the other still carries everything
            assert wait(lambda: r1.kernel_nexthops(prefix) == [], "r1's routes gone")
            assert r2.kernel_nexthops(prefix) == nodes
            answers = lab.probe(address, 20, netns=r2.netns)
            assert sum(answers.values()) == 20 and len(answers) > 1, answers

            r1.start()
            reconfigure(state, 0, PROJECT_PASSWORD)  # r1 back with its configuration
            reconfigure(state, 1, "another-password")  # r2 now disagrees with the nodes
            assert wait(lambda: r1.kernel_nexthops(prefix) == nodes, "r1 back")
            problems = wait(lambda: [p for p in status(state.state_dir)["problems"]
                                     if ROUTER_PEER_IPS[1] in p] if not r2.established()
                            else None, "r2's sessions down with a problem each", 30)
            assert len(problems) == 3
            assert any("node node0" in p and "metal.equinix.com/bgp-pass" in p
                       for p in problems)
            assert any("node node1" in p and "metal.equinix.com/bgp-peers-1-bgp-pass" in p
                       for p in problems)
            assert all(PROJECT_PASSWORD not in p for p in problems)
            log = Path(state.state_dir, "speaker-node1.log")
            assert wait(lambda: any("bgp_session_not_established" in line and
                                    f"peer={ROUTER_PEER_IPS[1]}" in line and
                                    "node=node1" in line
                                    for line in log.read_text().splitlines()),
                        "the speaker names the node and the router", 30)
            answers = lab.probe(address, 10, netns=r1.netns)
            assert sum(answers.values()) == 10, answers
    finally:
        down(state.state_dir, state.prefix)


@pytest.mark.parametrize("kind", ["bird", "gobgp"])
def test_packet_topology_with_bird_or_gobgp_as_provider_routers(kind):
    """Multihop, MD5 and ECMP over every node at both routers (FRR: the test above).
    GoBGP installs no kernel route: its RIB is checked."""
    require_lab()
    parent = Path(tempfile.mkdtemp(prefix="mlp"))
    parent.chmod(0o711)
    options = UpOptions(nodes=2, state_dir=str(parent / "lab"), prefix=f"mlq{os.getpid()}",
                        topology="packet", router=kind, timeout=60)
    state = up(options, progress=lambda _line: None)
    try:
        assert {s["state"] for s in status(state.state_dir)["sessions"]} == {"Established"}
        with RunningLab(state) as lab:
            lab.create_service("web")
            (address,) = wait(lambda: lab.service_addresses("web"), "an address")
            prefix = f"{address}/32"
            for router in lab.routers:
                assert wait(lambda r=router: r.path_nexthops(prefix) == lab.node_addresses,
                            f"a path per node at {router.netns}")
                installed = router.kernel_nexthops(prefix)
                assert installed == (lab.node_addresses if kind == "bird" else [])
    finally:
        down(state.state_dir, state.prefix)
