"""Malformed objects next to good ones, against the real daemons: each bad one is logged
(or gets a Warning Event) and skipped; the good ones are still served, both daemons keep
running, and no bad object brings a route."""

from __future__ import annotations

import contextlib

import pytest
from kubernetes.client.exceptions import ApiException

from lab.harness.stack import system_stack
from metallb.wait import poll_until

BAD_NS = "bad"
HUGE = "x" * 60_000


def _service(name, annotations=None, **spec):
    return {"metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}],
                     "selector": {"app": name}, **spec}}


BAD_SERVICES = {
    "v6-where-v4": _service("v6-where-v4", loadBalancerIP="2001:db8::5"),
    "garbage-ips": _service("garbage-ips", {"metallb.universe.tf/loadBalancerIPs":
                                            "not-an-ip,,999.1.1.1"}),
    "two-of-a-family": _service("two-of-a-family", {"metallb.universe.tf/loadBalancerIPs":
                                                    "198.51.100.200,198.51.100.201"}),
    "unknown-pool": _service("unknown-pool", {"metallb.universe.tf/address-pool": "nope"}),
    "huge-annotation": _service("huge-annotation", {"metallb.universe.tf/allow-shared-ip":
                                                    HUGE, "metallb.io/address-pool": HUGE}),
    "outside-pools": _service("outside-pools", loadBalancerIP="192.0.2.77"),
}


@pytest.mark.timeout(180)
def test_bad_objects_are_skipped_and_good_ones_served():
    with system_stack() as stack:
        core = stack.core
        core.create_namespace({"metadata": {"name": BAD_NS}})
        stack.create_service("good-before")
        accepted = []
        for name, body in BAD_SERVICES.items():
            try:
                core.create_namespaced_service(BAD_NS, body)
                accepted.append(name)
            except ApiException as err:  # the API itself refused it: fine as well
                assert err.status in (400, 422), err
        assert len(accepted) >= 4, accepted
        # A status no controller would write, and an EndpointSlice without node names.
        core.create_namespaced_service(BAD_NS, _service("garbage-status"))
        with contextlib.suppress(ApiException):
            core.patch_namespaced_service_status("garbage-status", BAD_NS, {"status": {
                "loadBalancer": {"ingress": [{"ip": "198.51.100.250"},
                                             {"hostname": HUGE[:200]}]}}})
        stack.discovery.create_namespaced_endpoint_slice(BAD_NS, {
            "metadata": {"name": "weird", "labels": {
                "kubernetes.io/service-name": "v6-where-v4"}},
            "addressType": "IPv4", "endpoints": [
                {"addresses": ["10.0.0.1"]},
                {"addresses": ["10.0.0.2"], "nodeName": "no-such-node",
                 "conditions": {"ready": None, "serving": True}}]})
        stack.create_service("good-after")
        stack.create_service("good-local", local=True)
        verdict = stack.wait_converged(60)  # the good ones: addresses and exact routes
        assert verdict.assigned == 3

        def warned() -> set[str]:
            events = core.list_namespaced_event(BAD_NS).items
            return {e.involved_object.name for e in events if e.type == "Warning"}

        expected = {"v6-where-v4", "garbage-ips", "two-of-a-family", "unknown-pool",
                    "outside-pools"} & set(accepted)
        poll_until(lambda: expected <= warned(), timeout=30,
                   what=f"Warning events for {sorted(expected)}")
        for name in expected:
            status = core.read_namespaced_service_status(name, BAD_NS).status
            assert not (status.load_balancer and status.load_balancer.ingress), name
        for proc in [*stack.controllers, *stack.speakers.values()]:
            assert proc.proc.poll() is None, proc.log_text()[-2000:]
            assert proc.ready(), proc.log_path.name
        logs = stack.all_logs()
        assert not [n for n, text in logs.items() if "Traceback" in text], logs
        assert not stack.server.denials
