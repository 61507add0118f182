"""The incremental planner against the reference: after every step of any sequence of
service, status and EndpointSlice changes, `IncrementalPlanner` holds exactly what
`planner.plan` computes from scratch over the same objects. Addresses come from a small
set, so services share host routes and aggregated prefixes all the time; services mix
externalTrafficPolicy Local and Cluster, endpoints on this node and elsewhere."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metallb.config.model import AddressRange, Advertisement, Config, NodeSelector, Peer, Pool
from speaker.bgp import RouteAttrs
from speaker.incremental import IncrementalPlanner, PlanDelta, apply_delta
from speaker.node import NodeInfo
from speaker.planner import Plan, plan


def _range(cidr: str) -> AddressRange:
    net = ipaddress.ip_network(cidr)
    return AddressRange(
        int(net.network_address), int(net.broadcast_address), net.version, cidr, net.prefixlen
    )


EBGP = Peer(peer_address="192.0.2.1", peer_asn=64512, my_asn=64600, name="ebgp")
IBGP = Peer(peer_address="192.0.2.2", peer_asn=64600, my_asn=64600, name="ibgp")
EBGP6 = Peer(peer_address="2001:db8:ffff::1", peer_asn=64512, my_asn=64600, name="v6")
HOSTS = Pool("hosts", "bgp", (_range("198.51.100.0/29"),), advertisements=(
    Advertisement(communities=("64512:1",)),
    Advertisement(localpref=50, communities=("64512:2",), peers=("ibgp",)),
))
AGGREGATED = Pool("agg", "bgp", (_range("203.0.113.0/29"), _range("2001:db8:1::/125")),
                  advertisements=(
    Advertisement(aggregation_length=24, aggregation_length_v6=64, localpref=200,
                  communities=("64512:10",)),
    Advertisement(localpref=100, communities=("64512:11",),
                  node_selectors=(NodeSelector(match_labels=(("rack", "a"),)),)),
))
# a second pool aggregated into the same prefixes, with other attributes: one prefix
# then carries the union of both pools' communities and the higher local preference
NEIGHBOUR = Pool("neighbour", "bgp", (_range("203.0.113.8/29"), _range("2001:db8:1::8/125")),
                 advertisements=(Advertisement(aggregation_length=24, aggregation_length_v6=64,
                                               localpref=300, communities=("64512:20",)),))
LAYER2 = Pool("l2", "layer2", (_range("192.0.2.128/29"),))
CONFIG = Config(peers=(EBGP, IBGP, EBGP6), pools=(HOSTS, AGGREGATED, NEIGHBOUR, LAYER2))
NODE = NodeInfo("n1", labels={"rack": "a"})
OTHER_CONFIG = Config(peers=(EBGP,), pools=(HOSTS, AGGREGATED))

ADDRESSES = ["198.51.100.1", "198.51.100.2", "203.0.113.1", "203.0.113.5", "203.0.113.9",
             "2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::9", "192.0.2.130", "10.9.9.9"]
NAMES = ["s0", "s1", "s2", "s3"]
SLICES = ["a", "b"]  # two slices per service name: s0-a, s0-b, ...


def service(name: str, ips: list[str], local: bool, kind: str = "LoadBalancer",
            lb_class: str | None = None) -> dict:
    spec: dict = {"type": kind, "externalTrafficPolicy": "Local" if local else "Cluster"}
    if lb_class is not None:
        spec["loadBalancerClass"] = lb_class
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec,
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}


def endpoint_slice(name: str, owner: str, endpoints: list[tuple[str, bool | None]]) -> dict:
    return {"metadata": {"name": name, "namespace": "default",
                         "labels": {"kubernetes.io/service-name": owner}},
            "endpoints": [{"addresses": ["10.0.0.1"], "nodeName": node,
                           "conditions": {} if ready is None else {"ready": ready}}
                          for node, ready in endpoints]}


services_st = st.builds(
    service, st.sampled_from(NAMES), st.lists(st.sampled_from(ADDRESSES), max_size=2),
    st.booleans(), st.sampled_from(["LoadBalancer", "LoadBalancer", "ClusterIP"]),
    st.sampled_from([None, None, None, "other"]))
slices_st = st.builds(
    lambda owner, suffix, endpoints: endpoint_slice(f"{owner}-{suffix}", owner, endpoints),
    st.sampled_from(NAMES), st.sampled_from(SLICES),
    st.lists(st.tuples(st.sampled_from(["n1", "n2"]), st.sampled_from([True, False, None])),
             max_size=2))
# a slice may also be relabelled to another service: its old owner loses its endpoints
relabelled_st = st.builds(
    lambda name, suffix, owner, node: endpoint_slice(f"{name}-{suffix}", owner, [(node, True)]),
    st.sampled_from(NAMES), st.sampled_from(SLICES), st.sampled_from(NAMES),
    st.sampled_from(["n1", "n2"]))
change_st = st.one_of(
    st.tuples(st.just("service"), services_st),
    st.tuples(st.just("delete service"), st.sampled_from(NAMES)),
    st.tuples(st.just("slice"), slices_st | relabelled_st),
    st.tuples(st.just("delete slice"), st.builds(lambda n, s: f"{n}-{s}",
                                                 st.sampled_from(NAMES),
                                                 st.sampled_from(SLICES))),
)


class World:
    """What the informers hold: services and slices by `namespace/name` key."""

    def __init__(self) -> None:
        self.services: dict[str, dict] = {}
        self.slices: dict[str, dict] = {}

    def apply(self, change: tuple[str, object]) -> tuple[list[str], list[str]]:
        """Apply one change; the (service keys, slice keys) it touched."""
        kind, value = change
        if kind == "service":
            assert isinstance(value, dict)
            key = f"default/{value['metadata']['name']}"
            self.services[key] = value
            return [key], []
        if kind == "delete service":
            key = f"default/{value}"
            self.services.pop(key, None)
            return [key], []
        if kind == "slice":
            assert isinstance(value, dict)
            key = f"default/{value['metadata']['name']}"
            self.slices[key] = value
            return [], [key]
        key = f"default/{value}"
        self.slices.pop(key, None)
        return [], [key]

    def reference(self, config: Config = CONFIG, node: NodeInfo = NODE,
                  lb_class: str | None = None) -> Plan:
        return plan(config, node, self.services.values(), self.slices.values(),
                    lb_class=lb_class)


def assert_same(got: Plan, want: Plan) -> None:
    assert got.peers == want.peers
    assert got.routes == want.routes
    assert got.announced == want.announced
    assert got.issues == want.issues


def assert_touched_covers_every_difference(planner: IncrementalPlanner, before: Plan,
                                           after: Plan) -> None:
    """`touched` is what the route book compares: a prefix left out would never be sent."""
    assert planner.touched is not None
    for addr, table in after.routes.items():
        old = before.routes[addr]
        differs = {p for p in {*old, *table} if old.get(p) != table.get(p)}
        assert differs <= planner.touched[addr]


def assert_delta_leads_from_before_to_want(delta: PlanDelta, before: Plan,
                                           want: Plan) -> None:
    """What the daemon and the driver rely on: the delta applied to the plan before is
    the full plan after, and its announced pairs are exact (the daemon counts them)."""
    assert_same(apply_delta(before, delta), want)
    assert delta.added.isdisjoint(before.announced)
    assert delta.removed <= before.announced


def start(world: World, config: Config = CONFIG, node: NodeInfo = NODE,
          lb_class: str | None = None) -> IncrementalPlanner:
    planner = IncrementalPlanner(lb_class)
    planner.full(config, node, world.services.values(), world.slices.values())
    return planner


@settings(max_examples=400, deadline=None)
@given(st.lists(change_st, max_size=6), st.lists(change_st, min_size=1, max_size=25),
       st.sampled_from([None, "other"]))
def test_after_every_single_change_the_incremental_plan_is_the_full_plan(
        before, changes, lb_class):
    world = World()
    for change in before:
        world.apply(change)
    planner = start(world, lb_class=lb_class)
    for change in changes:
        service_keys, slice_keys = world.apply(change)
        before = planner.current
        assert before is not None
        delta = planner.step(service_keys, world.services.get, slice_keys, world.slices.get)
        want = world.reference(lb_class=lb_class)
        assert_delta_leads_from_before_to_want(delta, before, want)
        got = planner.current
        assert got is not None
        assert_same(got, want)
        assert_touched_covers_every_difference(planner, before, got)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(change_st, min_size=1, max_size=6), min_size=1, max_size=8))
def test_after_every_batch_of_changes_the_incremental_plan_is_the_full_plan(batches):
    world = World()
    planner = start(world)
    for batch in batches:
        service_keys: list[str] = []
        slice_keys: list[str] = []
        for change in batch:
            touched_services, touched_slices = world.apply(change)
            service_keys += touched_services
            slice_keys += touched_slices
        before = planner.current
        assert before is not None
        delta = planner.step(service_keys, world.services.get, slice_keys, world.slices.get)
        assert_delta_leads_from_before_to_want(delta, before, world.reference())
        got = planner.current
        assert got is not None
        assert_same(got, world.reference())
        assert_touched_covers_every_difference(planner, before, got)


@settings(max_examples=100, deadline=None)
@given(st.lists(change_st, max_size=10), st.lists(change_st, min_size=1, max_size=10))
def test_a_config_or_node_change_asks_for_a_full_plan_and_increments_continue_from_it(
        before, after):
    world = World()
    for change in before:
        world.apply(change)
    planner = start(world)
    other_node = NodeInfo("n1", labels={"rack": "b"})
    for config, node in ((OTHER_CONFIG, NODE), (CONFIG, other_node), (CONFIG, NODE)):
        assert planner.needs_full(config, node)
        planner.full(config, node, world.services.values(), world.slices.values())
        assert not planner.needs_full(config, node)
    for change in after:
        service_keys, slice_keys = world.apply(change)
        got = planner.changed(service_keys, world.services.get, slice_keys, world.slices.get)
        assert_same(got, world.reference())


# Named cases the properties above also reach, kept as readable examples.
def _shared_world() -> World:
    world = World()
    for change in (("service", service("s0", ["203.0.113.1"], local=True)),
                   ("service", service("s1", ["203.0.113.1"], local=False)),
                   ("slice", endpoint_slice("s0-a", "s0", [("n1", True)])),
                   ("slice", endpoint_slice("s1-a", "s1", [("n2", True)]))):
        world.apply(change)
    return world


def test_deleting_one_of_two_services_sharing_an_address_keeps_the_others_route():
    world = _shared_world()
    planner = start(world)
    world.apply(("delete service", "s1"))
    got = planner.changed(["default/s1"], world.services.get)
    assert got.routes[IBGP.peer_address]["203.0.113.1/32"] == RouteAttrs(
        communities=("64512:11",), local_pref=100)
    assert got.announced == {("default/s0", "203.0.113.1")}
    assert_same(got, world.reference())


def test_a_local_service_whose_endpoint_leaves_the_node_is_withdrawn_but_its_cluster_sharer_stays():
    world = _shared_world()
    planner = start(world)
    world.apply(("slice", endpoint_slice("s0-a", "s0", [("n2", True)])))
    got = planner.changed([], world.services.get, ["default/s0-a"], world.slices.get)
    assert ("default/s0", "203.0.113.1") not in got.announced
    assert ("default/s1", "203.0.113.1") in got.announced
    assert "203.0.113.1/32" in got.routes[EBGP.peer_address]
    assert_same(got, world.reference())


def _two_cluster_services(first: str, second: str) -> World:
    """s0 and s1 (Cluster policy, an endpoint on another node) on these addresses."""
    world = World()
    for name, ip in (("s0", first), ("s1", second)):
        world.apply(("service", service(name, [ip], local=False)))
        world.apply(("slice", endpoint_slice(f"{name}-a", name, [("n2", True)])))
    return world


def test_a_service_leaving_an_aggregate_keeps_the_aggregate_while_another_is_in_it():
    world = _two_cluster_services("203.0.113.1", "203.0.113.5")
    planner = start(world)
    world.apply(("service", service("s1", ["198.51.100.1"], local=False)))
    got = planner.changed(["default/s1"], world.services.get)
    assert set(got.routes[EBGP.peer_address]) == {
        "203.0.113.0/24", "203.0.113.1/32", "198.51.100.1/32"}
    assert_same(got, world.reference())


def test_a_prefix_two_pools_aggregate_into_loses_the_leaving_pools_attributes():
    world = _two_cluster_services("203.0.113.1", "203.0.113.9")
    planner = start(world)
    assert planner.changed([], world.services.get).routes[IBGP.peer_address][
        "203.0.113.0/24"] == RouteAttrs(communities=("64512:10", "64512:20"), local_pref=300)
    world.apply(("delete service", "s1"))
    got = planner.changed(["default/s1"], world.services.get)
    assert got.routes[IBGP.peer_address]["203.0.113.0/24"] == RouteAttrs(
        communities=("64512:10",), local_pref=200)
    assert_same(got, world.reference())


def test_changed_before_any_full_plan_is_refused():
    with pytest.raises(RuntimeError, match="before full"):
        IncrementalPlanner().changed([], World().services.get)


def test_the_previous_plan_is_not_changed_by_the_next_increment():
    world = _shared_world()
    planner = start(world)
    first = planner.changed([], world.services.get)
    snapshot = {addr: dict(table) for addr, table in first.routes.items()}
    world.apply(("delete service", "s0"))
    world.apply(("delete service", "s1"))
    planner.changed(["default/s0", "default/s1"], world.services.get)
    assert first.routes == snapshot


@pytest.mark.parametrize("asked_before_it_says_stop", [0, 1, 2])
def test_an_index_cut_short_by_a_stop_is_built_again_by_the_next_step(asked_before_it_says_stop):
    """A stopping speaker leaves the split into shares (rule D3); should the planner be
    used after all, the next step builds the split from the start and is exact."""
    world = World()
    for i in range(2_500):  # the stop is asked every 1,024 services
        world.apply(("service", service(f"s{i}", [ADDRESSES[i % len(ADDRESSES)]], False)))
        world.apply(("slice", endpoint_slice(f"s{i}-a", f"s{i}", [("n1", True)])))
    planner = start(world)
    assert len(world.reference().announced) >= 2_000  # what a partial split would miss
    asked = []

    def stopping() -> bool:
        asked.append(1)
        return len(asked) > asked_before_it_says_stop

    assert planner.index(stopping) is False
    assert len(asked) == asked_before_it_says_stop + 1
    world.apply(("delete service", "s7"))
    assert_same(planner.changed(["default/s7"], world.services.get), world.reference())
    assert planner.index(stopping) is True  # done by the step: nothing left to split
