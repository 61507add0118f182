"""summarize(): what `metallb config check` prints for a valid config."""

from __future__ import annotations

from pathlib import Path

from metallb.commands.input_files import read_config
from metallb.config import parse_config_text
from metallb.config.summary import summarize

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.yaml"


def test_example_config_summary():
    lines = summarize(read_config(str(EXAMPLE)))
    assert lines[0] == "2 pools, 0 peers, 2 autodiscovery rules"
    assert "pool pool1: bgp, 1 address: 198.51.100.20/32" in lines
    assert "pool pool2: bgp, 16 addresses: 203.0.113.16/29, 203.0.113.24/29" in lines
    assert any(
        line.startswith("autodiscovery from annotations: my-asn <- metal.equinix.com/node-asn")
        for line in lines
    )


def test_summary_shows_peers_flags_and_hides_passwords():
    config = parse_config_text("""
peers:
- peer-address: 10.0.0.1
  peer-asn: 65000
  my-asn: 65000
  password: topsecret
  node-selectors: [{match-labels: {rack: r1}}, {match-expressions: [{key: x, operator: Exists}]}]
peer-autodiscovery:
  from-labels: [{peer-address: ex.com/peer}]
  defaults: {my-asn: 1, peer-asn: 2, password: alsosecret}
address-pools:
- {name: p, protocol: bgp, addresses: [192.0.2.0/24], avoid-buggy-ips: true, auto-assign: false}
""")
    text = "\n".join(summarize(config))
    assert "topsecret" not in text and "alsosecret" not in text
    assert "password set" in text and "password=(set)" in text
    assert "pool p: bgp, 254 addresses: 192.0.2.0/24 (auto-assign off, avoid-buggy-ips)" in text
    assert (
        "peer 10.0.0.1 port 179: peer-asn 65000, my-asn 65000 (iBGP), hold-time 90s, "
        "password set, nodes: rack=r1 or x Exists"
    ) in text


def test_upstream_differences_only_where_they_matter():
    def notes(pools: str) -> list[str]:
        lines = summarize(parse_config_text(f"address-pools:\n{pools}"))
        return [line for line in lines if line.startswith("differs from MetalLB: ")]

    one = "- {name: a, protocol: bgp, addresses: [192.0.2.0/24]}\n"
    manual = "- {name: m, protocol: bgp, addresses: [198.51.100.0/24], auto-assign: false}\n"
    second = "- {name: b, protocol: bgp, addresses: [203.0.113.0/24]}\n"
    assert notes(one) == []
    assert notes(one + manual) == []  # a pool that is never picked automatically: no order
    assert notes(second + manual + one) == [
        "differs from MetalLB: pools are tried in the order listed (b, a); "
        "upstream MetalLB's order is random"
    ]
    layer2 = "- {name: l2, protocol: layer2, addresses: [198.51.100.0/24], auto-assign: false}\n"
    assert notes(one + layer2) == [
        "differs from MetalLB: layer2 pools (l2) hand out addresses that are never announced: "
        "only BGP mode is implemented"
    ]


# rule C6: keepalive-time is parsed and checked, but ExaBGP 4.2 cannot send it
def test_keepalive_time_is_said_to_be_ignored_with_what_exabgp_does():
    config = parse_config_text("""
peers:
- {peer-address: 10.0.0.1, peer-asn: 65000, my-asn: 65001, hold-time: 90s, keepalive-time: 10s}
- {peer-address: 10.0.0.2, peer-asn: 65000, my-asn: 65001, hold-time: 0s, keepalive-time: 0s}
- {peer-address: 10.0.0.3, peer-asn: 65000, my-asn: 65001, hold-time: 9s}
""")
    lines = [line for line in summarize(config) if line.startswith("peer ")]
    assert "keepalive-time 10s (ignored: ExaBGP sends keepalives every hold-time / 3 = 30s)" \
        in lines[0]
    assert "keepalive-time 0s (ignored: with hold-time 0 ExaBGP sends no keepalives)" \
        in lines[1]
    assert "keepalive" not in lines[2]
