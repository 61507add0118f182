"""ExaBGP 4.2.25 internals as the launcher's contract tests use them: its originals (taken
before any fix is installed), routes parsed by its own API parser, a real reactor with
one configured neighbor, and fixtures that restore stock ExaBGP after each test."""

from __future__ import annotations

import contextlib
import os
from types import SimpleNamespace
from typing import Any

import pytest
from exabgp.bgp.message.open.asn import ASN
from exabgp.bgp.neighbor import Neighbor
from exabgp.configuration.setup import environment
from exabgp.protocol.family import AFI, SAFI
from exabgp.protocol.ip import IP
from exabgp.reactor.api import API
from exabgp.reactor.api.command.command import Command
from exabgp.reactor.asynchronous import ASYNC
from exabgp.reactor.loop import Reactor
from exabgp.rib.outgoing import OutgoingRIB
from exabgp.vendoring import docopt

from speaker.exabgp.launcher.install import apply_fixes

ORIGINAL_REMOVE_SELF = Neighbor.remove_self
ORIGINAL_UPDATES = OutgoingRIB.updates
ORIGINAL_WAIT_FOR_IO = Reactor._wait_for_io
ORIGINAL_ASYNC_LIMIT = ASYNC.LIMIT
ORIGINAL_HANDLERS = dict(Command.callback["text"])
ORIGINAL_DOCOPT = docopt.docopt
PATCHED_HANDLERS = ("announce attributes", "withdraw attributes")

ROUTER_ASN, NODE_ASN = 64512, 64513


def stock_state() -> tuple[Any, ...]:
    """Every place a fix goes, as it stands now (equal to STOCK when unpatched)."""
    return (Neighbor.remove_self, OutgoingRIB.updates, Reactor._wait_for_io, ASYNC.LIMIT,
            *(Command.callback["text"][name] for name in PATCHED_HANDLERS), docopt.docopt)


STOCK = stock_state()


@pytest.fixture
def stock_exabgp(monkeypatch: pytest.MonkeyPatch) -> None:
    """ExaBGP as released for the test, and again after it, whatever the test installs."""
    monkeypatch.setattr(Neighbor, "remove_self", ORIGINAL_REMOVE_SELF)
    monkeypatch.setattr(OutgoingRIB, "updates", ORIGINAL_UPDATES)
    monkeypatch.setattr(Reactor, "_wait_for_io", ORIGINAL_WAIT_FOR_IO)
    monkeypatch.setattr(ASYNC, "LIMIT", ORIGINAL_ASYNC_LIMIT)
    monkeypatch.setattr(docopt, "docopt", ORIGINAL_DOCOPT)
    monkeypatch.setattr(Command, "callback", {**Command.callback,
                                              "text": dict(ORIGINAL_HANDLERS)})


@pytest.fixture
def patched_exabgp(stock_exabgp: None) -> None:
    """ExaBGP with every fix installed for the test only."""
    assert apply_fixes() is True


def neighbor(local: str, router_id: str = "192.0.2.11", peer: str | None = None) -> Neighbor:
    """A neighbor as ExaBGP configures one (peer address, ASNs and families when `peer`
    is given: enough for a RIB and `Update.messages`)."""
    n = Neighbor()
    n.local_address = IP.create(local)
    n.router_id = IP.create(router_id)
    if peer is not None:
        n.peer_address = IP.create(peer)
        n.local_as, n.peer_as = ASN(NODE_ASN), ASN(ROUTER_ASN)
        n.add_family((AFI.ipv4, SAFI.unicast))
        n.add_family((AFI.ipv6, SAFI.unicast))
        n.make_rib()
    return n


def changes(command: str) -> list:
    """The routes ExaBGP's own API parser makes of an `announce|withdraw attributes`."""
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


class Answers:
    """ExaBGP's `Processes` as a command handler sees it: the answers it writes."""

    def __init__(self) -> None:
        self.answers: list[str] = []

    def answer_done(self, _service: str) -> None:
        self.answers.append("done")

    def answer_error(self, _service: str) -> None:
        self.answers.append("error")


SERVICE = "metallb"


def api_reactor(peer: Neighbor) -> tuple[Reactor, Answers]:
    """ExaBGP's real reactor (its configuration, API and asynchronous queue) with `peer`
    configured and served by the API process SERVICE; nothing is started."""
    environment.setup("")
    with contextlib.chdir(os.getcwd()):  # its Daemon chdirs to / (a daemon's habit)
        reactor = Reactor([])
    reactor.configuration.neighbors[peer.name()] = peer
    reactor._peers[peer.name()] = SimpleNamespace(
        neighbor=SimpleNamespace(api={"processes": [SERVICE]}))
    answers = Answers()
    reactor.processes = answers
    return reactor, answers
