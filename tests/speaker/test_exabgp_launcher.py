"""The launcher's replacement for ExaBGP's `Neighbor.remove_self` must give exactly what
the original gives, for the route forms the driver sends, without touching its input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from exabgp.bgp.neighbor import Neighbor
from exabgp.configuration.setup import environment
from exabgp.protocol.ip import IP
from exabgp.reactor.api import API

from speaker import exabgp_launcher
from speaker.exabgp import default_exabgp_cmd
from speaker.exabgp_config import exabgp_env

ORIGINAL_REMOVE_SELF = Neighbor.remove_self


def neighbor(local: str, router_id: str = "192.0.2.11") -> Neighbor:
    n = Neighbor()
    n.local_address = IP.create(local)
    n.router_id = IP.create(router_id)
    return n


def changes(command: str) -> list:
    environment.setup("")  # what ExaBGP's main() does before it parses anything
    parsed = API(None).api_attributes(command, ["peer"])
    assert parsed, f"ExaBGP did not parse {command!r}"
    return parsed


def rendered(change) -> tuple:
    """Everything the NLRI holds (its slots, by value) plus ExaBGP's own rendering."""
    slots = sorted({s for cls in type(change.nlri).__mro__ for s in getattr(cls, "__slots__", ())
                    if hasattr(change.nlri, s)})
    fields = tuple((s, repr(getattr(change.nlri, s))) for s in slots)
    attributes = sorted((code, repr(attr)) for code, attr in change.attributes.items())
    return change.extensive(), change.index(), repr(change.nlri.nexthop), fields, attributes


@pytest.mark.parametrize("local,command", [
    ("2001:db8:ffff::11", "announce attributes next-hop self nlri 2001:db8:1::1/128 "
                          "2001:db8:1::2/128"),
    ("192.0.2.11", "announce attributes next-hop self community [64512:100 64512:200] "
                   "local-preference 150 nlri 198.51.100.1/32 198.51.100.2/32"),
    ("192.0.2.11", "announce attributes next-hop self nlri 198.51.100.0/24"),
    ("192.0.2.11", "announce attributes next-hop 192.0.2.99 nlri 198.51.100.7/32"),
    ("192.0.2.11", "withdraw attributes next-hop self nlri 198.51.100.1/32"),
])
def test_lean_remove_self_equals_original(local: str, command: str) -> None:
    peer = neighbor(local)
    for change in changes(command):
        before = rendered(change)
        expected = ORIGINAL_REMOVE_SELF(peer, change)
        got = exabgp_launcher.lean_remove_self(peer, change)
        assert rendered(got) == rendered(expected)
        assert got.attributes == expected.attributes
        assert rendered(change) == before, "the input change was modified"


def test_next_hop_self_becomes_the_neighbors_address() -> None:
    peer = neighbor("2001:db8:ffff::11")
    (change, *_) = changes("announce attributes next-hop self nlri 2001:db8:1::1/128")
    assert str(exabgp_launcher.lean_remove_self(peer, change).nlri.nexthop) == \
        "2001:db8:ffff::11"


def test_other_releases_run_unpatched(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("exabgp.version.version", "9.9.9")
    monkeypatch.setattr(Neighbor, "remove_self", ORIGINAL_REMOVE_SELF)
    assert exabgp_launcher.apply_fixes() is False
    assert Neighbor.remove_self is ORIGINAL_REMOVE_SELF
    assert "ExaBGP 9.9.9 runs unpatched" in capsys.readouterr().err


def test_pinned_release_is_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Neighbor, "remove_self", ORIGINAL_REMOVE_SELF)
    assert exabgp_launcher.apply_fixes() is True
    assert Neighbor.remove_self is exabgp_launcher.lean_remove_self


def test_launcher_runs_exabgp() -> None:
    """The driver's command starts the real ExaBGP (its own --version answer)."""
    out = subprocess.run([*default_exabgp_cmd(), "--version"], capture_output=True,
                         text=True, timeout=60)
    assert default_exabgp_cmd()[:2] == [sys.executable, "-m"]
    assert "4.2.25" in out.stdout + out.stderr, out


def test_launcher_found_from_any_directory(tmp_path) -> None:
    """The driver's child runs in whatever directory the speaker was started from; the
    environment the driver gives it must make the launcher importable there by itself
    (`-S`: no site-packages, so no editable-install finder helps)."""
    env = {"PATH": os.environ.get("PATH", ""), **exabgp_env("WARNING")}
    out = subprocess.run([sys.executable, "-S", "-c", "import speaker.exabgp_launcher"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
