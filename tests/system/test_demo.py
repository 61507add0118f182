"""`metallb lab demo` end to end: its output is the evidence (addresses from pool1 and
pool2, three ECMP next hops, answers from several nodes, Prometheus numbers)."""

from __future__ import annotations

import ipaddress
import re

from tests.system.support import lab_env


def test_demo_runs_end_to_end_and_leaves_nothing_behind():
    with lab_env() as lab:
        proc = lab.run("demo", "--nodes", "3", timeout=180)
        out = proc.stdout
        assert proc.returncode == 0, out + proc.stderr
        assert "Traceback" not in out + proc.stderr
        steps = re.findall(r"^\[(\d)/7\]", out, re.M)
        assert steps == [str(i) for i in range(1, 8)]

        addresses = dict(re.findall(r"service default/(\w+): (\S+) \(pool", out))
        assert ipaddress.ip_address(addresses["web"]) in ipaddress.ip_network(
            "198.51.100.20/32")
        pool2 = [ipaddress.ip_network(n) for n in ("203.0.113.16/29", "203.0.113.24/29")]
        assert any(ipaddress.ip_address(addresses["nginx"]) in n for n in pool2)
        assert f"service default/web: {addresses['web']} (pool pool1)" in out
        assert f"service default/nginx: {addresses['nginx']} (pool pool2)" in out

        for address in addresses.values():
            hops = re.search(rf"{re.escape(address)}/32 kernel next hops: (.*)$", out, re.M)
            assert hops is not None, out
            assert hops.group(1).split() == ["192.0.2.11", "192.0.2.12", "192.0.2.13"]

        for name in ("web", "nginx"):
            answered = re.search(rf"{name} answered by (\d+) different nodes: (.*)$", out, re.M)
            assert answered is not None, out
            assert int(answered.group(1)) >= 2
            assert set(answered.group(2).split()) <= {"node0", "node1", "node2"}
        assert "error" not in " ".join(re.findall(r"^\s+http://.*$", out, re.M))

        sessions = re.findall(r'metallb_bgp_session_up\{node="(node\d)",peer="192.0.2.1"\} 1$',
                              out, re.M)
        assert sorted(sessions) == ["node0", "node1", "node2"]
        in_use = dict(re.findall(
            r'metallb_allocator_addresses_in_use_total\{pool="(\w+)"\} (\d+)$', out, re.M))
        assert in_use == {"pool1": "1", "pool2": "1"}

        assert "the lab is down" in out
        assert lab.leftovers() == []


def test_packet_demo_shows_both_provider_routers_with_ecmp_and_traffic_through_each():
    with lab_env() as lab:
        proc = lab.run("demo", "--nodes", "2", "--topology", "packet", timeout=180)
        out = proc.stdout
        assert proc.returncode == 0, out + proc.stderr
        for router in ("r1", "r2"):
            assert re.search(rf"in FRR in {lab.prefix}{router} .*active next hops: "
                             r"192\.0\.2\.11 192\.0\.2\.12$", out, re.M), out
            answered = re.findall(rf"through {lab.prefix}{router}: (.*)$", out, re.M)
            assert len(answered) == 2 and all("error" not in a for a in answered), out
        sessions = re.findall(r'metallb_bgp_session_up\{node="(node\d)",peer="(\S+)"\} 1$',
                              out, re.M)
        assert sorted(sessions) == [(f"node{i}", f"169.254.255.{r}") for i in range(2)
                                    for r in (1, 2)]
        assert lab.leftovers() == []
