"""The launcher's replacement for ExaBGP's `Neighbor.remove_self` must give exactly what
the original gives, for the route forms the driver sends, without touching its input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from exabgp.bgp.message.update.attribute import Attribute
from exabgp.bgp.neighbor import Neighbor
from exabgp.configuration.setup import environment
from exabgp.protocol.family import AFI, SAFI
from exabgp.protocol.ip import IP
from exabgp.reactor.api import API
from exabgp.reactor.api.command.command import Command
from exabgp.reactor.asynchronous import ASYNC
from exabgp.reactor.loop import Reactor
from exabgp.rib.outgoing import OutgoingRIB

from speaker import exabgp_launcher
from speaker.exabgp import default_exabgp_cmd
from speaker.exabgp.config import DEFAULT_BATCH, exabgp_env

ORIGINAL_REMOVE_SELF = Neighbor.remove_self
ORIGINAL_UPDATES = OutgoingRIB.updates
ORIGINAL_WAIT_FOR_IO = Reactor._wait_for_io
ORIGINAL_ASYNC_LIMIT = ASYNC.LIMIT
ORIGINAL_HANDLERS = dict(Command.callback["text"])


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


def test_routes_of_one_command_share_one_rewritten_attribute_set() -> None:
    first, second = neighbor("192.0.2.11"), neighbor("192.0.2.12", "192.0.2.12")
    routes = changes("announce attributes next-hop self community [64512:7] nlri "
                     "198.51.100.1/32 198.51.100.2/32 198.51.100.3/32")
    mine = [exabgp_launcher.lean_remove_self(first, c) for c in routes]
    theirs = [exabgp_launcher.lean_remove_self(second, c) for c in routes]
    assert len({id(c.attributes) for c in mine}) == 1
    assert mine[0].attributes is not theirs[0].attributes
    next_hop = Attribute.CODE.NEXT_HOP
    assert str(mine[0].attributes[next_hop]) == "192.0.2.11"
    assert str(theirs[0].attributes[next_hop]) == "192.0.2.12"
    assert all(c.attributes is not routes[0].attributes for c in mine)


def test_other_releases_run_unpatched(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("exabgp.version.version", "9.9.9")
    monkeypatch.setattr(Neighbor, "remove_self", ORIGINAL_REMOVE_SELF)
    assert exabgp_launcher.apply_fixes() is False
    assert Neighbor.remove_self is ORIGINAL_REMOVE_SELF
    assert "ExaBGP 9.9.9 runs unpatched" in capsys.readouterr().err


def test_pinned_release_is_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Neighbor, "remove_self", ORIGINAL_REMOVE_SELF)
    monkeypatch.setattr(OutgoingRIB, "updates", ORIGINAL_UPDATES)
    monkeypatch.setattr(Reactor, "_wait_for_io", ORIGINAL_WAIT_FOR_IO)
    monkeypatch.setattr(ASYNC, "LIMIT", ORIGINAL_ASYNC_LIMIT)
    monkeypatch.setattr(Command, "callback", {**Command.callback,
                                              "text": dict(ORIGINAL_HANDLERS)})
    assert exabgp_launcher.apply_fixes() is True
    assert exabgp_launcher.apply_fixes() is True  # twice: still one wrapper
    assert Neighbor.remove_self is exabgp_launcher.lean_remove_self
    assert OutgoingRIB.updates is exabgp_launcher.grouped_updates
    assert Reactor._wait_for_io.__wrapped__ is ORIGINAL_WAIT_FOR_IO
    assert ASYNC.LIMIT == exabgp_launcher.ASYNC_ROUTES_PER_TURN == DEFAULT_BATCH
    for name in ("announce attributes", "withdraw attributes"):
        assert Command.callback["text"][name].metallb_patched


def rib_with(local: str, commands: list[str]) -> OutgoingRIB:
    """An outgoing RIB holding what `commands` announce, as ExaBGP fills it."""
    peer = neighbor(local)
    rib = OutgoingRIB(False, [(AFI.ipv4, SAFI.unicast), (AFI.ipv6, SAFI.unicast)])
    for command in commands:
        for change in changes(command):
            rib.add_to_rib(exabgp_launcher.lean_remove_self(peer, change))
    return rib


def routes_in(updates) -> list[tuple[str, str]]:
    return sorted((str(nlri), repr(update.attributes)) for update in updates
                  for nlri in update.nlris)


COMMANDS = {
    "2001:db8:ffff::11": [
        "announce attributes next-hop self nlri 2001:db8:1::1/128 2001:db8:1::2/128 "
        "2001:db8:1::3/128",
        "announce attributes next-hop self community [64512:1] nlri 2001:db8:1::4/128",
        "withdraw attributes next-hop self nlri 2001:db8:1::9/128 2001:db8:1::8/128",
    ],
    "192.0.2.11": [
        "announce attributes next-hop self nlri 198.51.100.1/32 198.51.100.2/32",
        "announce attributes next-hop self local-preference 150 nlri 198.51.100.3/32",
        "withdraw attributes next-hop self nlri 198.51.100.9/32",
    ],
}


@pytest.mark.parametrize("local", sorted(COMMANDS))
@pytest.mark.parametrize("grouped", [True, False])
def test_grouped_updates_carry_the_same_routes(local: str, grouped: bool) -> None:
    """Every route and its attributes go out exactly as ExaBGP's own `updates` sends them;
    with grouping, one Update per attribute set, IPv6 included."""
    ours = list(exabgp_launcher.grouped_updates(rib_with(local, COMMANDS[local]), grouped))
    theirs = list(ORIGINAL_UPDATES(rib_with(local, COMMANDS[local]), grouped))
    assert routes_in(ours) == routes_in(theirs)
    if grouped:
        # one Update per attribute set (the withdraws share the plain set; packing
        # them apart from the announces is Update.messages()' job)
        assert len(ours) == len({repr(u.attributes) for u in ours}) == 2
    else:
        assert [len(u.nlris) for u in ours] == [1] * 6 if ":" in local else [1] * 4
    ipv4 = ":" not in local
    if ipv4 or not grouped:  # where ExaBGP groups itself, ours is the very same
        assert [routes_in([u]) for u in ours] == [routes_in([u]) for u in theirs]


def test_rib_is_emptied_by_grouped_updates() -> None:
    rib = rib_with("2001:db8:ffff::11", COMMANDS["2001:db8:ffff::11"])
    assert list(exabgp_launcher.grouped_updates(rib, True))
    assert list(exabgp_launcher.grouped_updates(rib, True)) == []


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


PEER_NAME = ("neighbor 192.0.2.1 local-ip 192.0.2.11 local-as 64513 peer-as 64512 "
             "router-id 192.0.2.11 family-allowed in-open")


class FakeReactor:
    """What an API command handler touches: peers, the configuration it injects into,
    the answers, and the asynchronous queue (run at once)."""

    def __init__(self) -> None:
        self.injected: list[tuple] = []
        self.answers: list[str] = []
        self.configuration = self
        self.processes = self
        self.asynchronous = self

    def peers(self, _service: str) -> list[str]:
        return [PEER_NAME]

    def inject_change(self, peers: list[str], change) -> bool:
        self.injected.append((tuple(peers), rendered(change), int(change.nlri.action)))
        return True

    def answer_done(self, _service: str) -> None:
        self.answers.append("done")

    def answer_error(self, _service: str) -> None:
        self.answers.append("error")

    def schedule(self, _uid: str, _command: str, callback) -> None:
        try:
            for _ in callback:
                pass
        except Exception as exc:  # ExaBGP's ASYNC.run logs it and drops the job
            self.answers.append(f"exception {type(exc).__name__}")


def run_handler(handler, line: str) -> FakeReactor:
    environment.setup("")
    reactor = FakeReactor()
    handler(API(reactor), reactor, "metallb", line)
    return reactor


BATCHED = [
    "neighbor 192.0.2.1 announce attributes next-hop self nlri 198.51.100.1/32 "
    "198.51.100.2/32 198.51.100.0/24",
    "neighbor 192.0.2.1 announce attributes next-hop self community [64512:1 64512:2] "
    "local-preference 150 nlri 2001:db8:1::1/128 2001:db8:1::2/128",
    "neighbor 192.0.2.1 withdraw attributes next-hop self nlri 198.51.100.1/32 "
    "198.51.100.2/32",
    # not for the fast path: ExaBGP's own handler must get them, with the same result
    "neighbor 192.0.2.1 announce attributes next-hop self nlri 198.51.100.1/32",
    "neighbor 192.0.2.1 announce attributes next-hop self nlri 198.51.100.1/24 "
    "198.51.100.2/32",
    "neighbor 192.0.2.1 announce attributes next-hop self nlri 198.51.100.1/32 "
    "2001:db8:1::1/128",
    "neighbor 192.0.2.99 announce attributes next-hop self nlri 198.51.100.1/32 "
    "198.51.100.2/32",
    "neighbor 192.0.2.1 announce attributes next-hop self bogus-attribute nlri "
    "198.51.100.1/32 198.51.100.2/32",
]


@pytest.mark.parametrize("index", range(len(BATCHED)))
def test_batched_attributes_inject_what_exabgp_injects(index: int) -> None:
    line = BATCHED[index]
    name = "announce attributes" if " announce " in line else "withdraw attributes"
    action = name.split()[0]
    original = ORIGINAL_HANDLERS[name]
    handed_over = []

    def counting(*args):
        handed_over.append(args[-1])
        return original(*args)

    ours = run_handler(exabgp_launcher.batched_attributes(action, counting), line)
    theirs = run_handler(original, line)
    assert ours.injected == theirs.injected
    assert ours.answers == theirs.answers
    assert bool(handed_over) == (index >= 3), "fast path taken for the first three only"
    if index < 3:
        assert len(ours.injected) >= 2 and ours.answers == ["done"]
