"""The ExaBGP route book: which commands each change produces, without ExaBGP.

A section per rule; each test is one step from a known book to the lines it returns."""

from __future__ import annotations

import pytest

from speaker.bgp import RouteAttrs
from speaker.exabgp.routebook import AckLedger, PeerCommands, RouteBook

PEER, OTHER = "192.0.2.1", "192.0.2.2"
A, B, C = "198.51.100.1/32", "198.51.100.2/32", "198.51.100.3/32"
PLAIN = RouteAttrs()
TAGGED = RouteAttrs(communities=("64512:1",))


def announce(peer: str, *prefixes: str, attrs: str = "next-hop self") -> str:
    return f"neighbor {peer} announce attributes {attrs} nlri {' '.join(prefixes)}"


def withdraw(peer: str, *prefixes: str) -> str:
    return f"neighbor {peer} withdraw attributes next-hop self nlri {' '.join(prefixes)}"


def book_holding(routes: dict[str, RouteAttrs], peer: str = PEER) -> RouteBook:
    """A book whose peer is up and holds exactly `routes`."""
    book = RouteBook()
    book.set_desired({peer: dict(routes)}, up=[peer])
    return book


# -- desired routes go only to sessions that are up ------------------------------------

def test_new_desired_routes_are_announced_to_up_peers():
    book = RouteBook()
    (cmds,) = book.set_desired({PEER: {A: PLAIN, B: PLAIN}}, up=[PEER])
    assert cmds == PeerCommands(PEER, (announce(PEER, A, B),), announced=2)
    assert book.held(PEER) == {A: PLAIN, B: PLAIN}


def test_peers_that_are_down_get_nothing_and_hold_nothing():
    book = RouteBook()
    assert book.set_desired({PEER: {A: PLAIN}}, up=[]) == []
    assert book.held(PEER) == {}


@pytest.mark.parametrize("held, desired, lines, counts", [
    ({A: PLAIN}, {A: PLAIN}, (), (0, 0)),
    ({A: PLAIN}, {A: PLAIN, B: PLAIN}, (announce(PEER, B),), (1, 0)),
    ({A: PLAIN, B: PLAIN}, {A: PLAIN}, (withdraw(PEER, B),), (0, 1)),
    ({A: PLAIN}, {A: TAGGED},
     (announce(PEER, A, attrs="next-hop self community [64512:1]"),), (1, 0)),
    ({A: PLAIN}, {B: PLAIN}, (withdraw(PEER, A), announce(PEER, B)), (1, 1)),
], ids=["unchanged", "added", "removed", "attributes changed", "replaced"])
def test_a_change_sends_only_the_difference_withdraws_first(held, desired, lines, counts):
    book = book_holding(held)
    (cmds,) = book.set_desired({PEER: desired}, up=[PEER])
    assert (cmds.lines, (cmds.announced, cmds.withdrawn)) == (lines, counts)
    assert book.held(PEER) == desired


def test_a_peer_missing_from_the_desired_tables_has_its_held_routes_withdrawn():
    book = book_holding({A: PLAIN})
    (cmds,) = book.set_desired({}, up=[PEER])
    assert cmds.lines == (withdraw(PEER, A),)


# -- a session that comes up gets its full set -----------------------------------------

def test_session_up_announces_everything_desired_even_what_is_held():
    book = book_holding({A: PLAIN})
    cmds = book.sync(PEER, full=True)
    assert cmds.lines == (announce(PEER, A),) and cmds.full and cmds.announced == 1


def test_session_up_withdraws_what_is_held_but_no_longer_desired():
    book = book_holding({A: PLAIN, B: PLAIN})
    book.set_desired({PEER: {A: PLAIN}}, up=[])  # changed while the session was down
    cmds = book.sync(PEER, full=True)
    assert cmds.lines == (withdraw(PEER, B), announce(PEER, A))


# -- announce ahead --------------------------------------------------------------------

def test_ahead_announces_only_new_routes_to_up_peers_and_set_desired_skips_them():
    book = book_holding({A: PLAIN})
    out = book.ahead({PEER: {A: PLAIN, B: PLAIN}, OTHER: {C: PLAIN}}, up={PEER})
    assert out == [PeerCommands(PEER, (announce(PEER, B),), announced=1)]
    (cmds,) = book.set_desired({PEER: {A: PLAIN, B: PLAIN}}, up=[PEER])
    assert cmds.lines == ()


def test_ahead_with_nothing_new_sends_nothing():
    book = book_holding({A: PLAIN})
    assert book.ahead({PEER: {A: PLAIN}}, up={PEER}) == []
    assert book.ahead({PEER: {}}, up={PEER}) == []


# -- withdrawing and forgetting --------------------------------------------------------

def test_withdraw_held_empties_the_peer():
    book = book_holding({A: PLAIN, B: PLAIN})
    assert book.withdraw_held(PEER) == PeerCommands(PEER, (withdraw(PEER, A, B),),
                                                    withdrawn=2)
    assert book.held(PEER) == {}
    assert book.withdraw_held(PEER).lines == ()


def test_after_an_exabgp_restart_nothing_is_held_and_session_up_resends_all():
    book = book_holding({A: PLAIN})
    book.forget_held()
    assert book.held(PEER) == {}
    assert book.sync(PEER, full=True).lines == (announce(PEER, A),)


def test_commands_are_batched_by_the_books_batch_size():
    book = RouteBook(batch=2)
    (cmds,) = book.set_desired({PEER: {A: PLAIN, B: PLAIN, C: PLAIN}}, up=[PEER])
    assert cmds.lines == (announce(PEER, A, B), announce(PEER, C))


# -- counts for metrics ----------------------------------------------------------------

@pytest.mark.parametrize("up, expected", [(True, (1, 1)), (False, (0, 2))])
def test_counts_are_announced_and_pending_prefixes(up, expected):
    book = book_holding({A: PLAIN})
    book.set_desired({PEER: {A: PLAIN, B: PLAIN}}, up=[])
    assert book.counts(PEER, up) == expected


# rule N12: the announced count is what ExaBGP acknowledged
def test_ack_ledger_counts_held_prefixes_once_their_commands_are_acked():
    ledger = AckLedger()
    assert ledger.acknowledged("p", 1, 0, 0) == 0
    ledger.sent("p", 1, commands=1, held=3)
    ledger.sent("p", 1, commands=3, held=5)
    assert ledger.acknowledged("p", 1, 0, 5) == 0  # nothing acked yet
    assert ledger.acknowledged("p", 1, 2, 5) == 3  # the first send is done
    ledger.sent("p", 1, commands=4, held=1)  # a withdraw of 4
    assert ledger.acknowledged("p", 1, 3, 1) == 5  # the router still has 5
    assert ledger.acknowledged("p", 1, 4, 1) == 1
    ledger.sent("p", 1, commands=5, held=2)
    assert ledger.acknowledged("p", 2, 0, 0) == 0  # ExaBGP restarted: old marks are void
    ledger.sent("p", 2, commands=1, held=2)
    ledger.forget()
    assert ledger.acknowledged("p", 2, 0, 0) == 0


# -- told what changed, the book compares only those prefixes ---------------------------

@pytest.mark.parametrize("held, desired, changed, lines", [
    ({A: PLAIN}, {A: PLAIN, B: PLAIN}, [B], (announce(PEER, B),)),
    ({A: PLAIN, B: PLAIN}, {A: PLAIN}, [B], (withdraw(PEER, B),)),
    ({A: PLAIN}, {A: TAGGED}, [A], (announce(PEER, A, attrs="next-hop self community "
                                                         "[64512:1]"),)),
    ({A: PLAIN}, {B: PLAIN}, [A, B, C], (withdraw(PEER, A), announce(PEER, B))),
    ({A: PLAIN}, {A: PLAIN}, [A], ()),
], ids=["added", "removed", "attributes changed", "replaced", "unchanged"])
def test_changed_prefixes_give_the_same_difference_as_a_full_comparison(
        held, desired, changed, lines):
    book = book_holding(held)
    (cmds,) = book.change_desired({PEER: {p: desired.get(p) for p in changed}}, up=[PEER])
    assert cmds.lines == lines
    assert book.held(PEER) == desired
    assert book.desired(PEER) == desired


def test_a_change_leaves_every_prefix_it_does_not_name_as_it_was():
    book = book_holding({A: PLAIN})
    (cmds,) = book.change_desired({PEER: {B: PLAIN}}, up=[PEER])
    assert cmds.lines == (announce(PEER, B),)
    assert book.desired(PEER) == {A: PLAIN, B: PLAIN}


@pytest.mark.parametrize("detour", ["down for one change", "routes sent ahead",
                                    "exabgp restarted", "held withdrawn"])
def test_a_peer_whose_held_set_drifted_from_desired_is_compared_in_full(detour):
    book = book_holding({A: PLAIN})
    if detour == "down for one change":
        book.set_desired({PEER: {B: PLAIN}}, up=[])
    elif detour == "routes sent ahead":
        book.ahead({PEER: {C: PLAIN}}, up={PEER})
    elif detour == "exabgp restarted":
        book.forget_held()
    else:
        book.withdraw_held(PEER)
    (cmds,) = book.change_desired({PEER: {A: None, B: PLAIN}}, up=[PEER])
    assert book.held(PEER) == {B: PLAIN}
    assert cmds.announced == 1


def test_a_change_while_the_peer_is_down_changes_what_is_desired_not_what_is_held():
    book = book_holding({A: PLAIN})
    assert book.change_desired({PEER: {A: None, B: PLAIN}}, up=[]) == []
    assert book.held(PEER) == {A: PLAIN}
    assert book.desired(PEER) == {B: PLAIN}
    (cmds,) = book.change_desired({}, up=[PEER])
    assert cmds.lines == (withdraw(PEER, A), announce(PEER, B))


def test_routes_sent_ahead_are_held_not_desired():
    book = book_holding({A: PLAIN})
    book.ahead({PEER: {C: PLAIN}}, up={PEER})
    assert book.held(PEER) == {A: PLAIN, C: PLAIN}
    assert book.desired(PEER) == {A: PLAIN}


def test_a_peer_in_step_counts_everything_held_and_nothing_pending():
    book = book_holding({A: PLAIN, B: PLAIN})
    book.change_desired({PEER: {B: None, C: PLAIN}}, up=[PEER])
    assert book.counts(PEER, True) == (2, 0)


# -- graceful restart: End-of-RIB once the whole set is out (rule N17) -------------------

def eor(peer: str) -> str:
    return f"neighbor {peer} announce eor ipv4 unicast"


def graceful_book() -> RouteBook:
    book = RouteBook()
    book.set_end_of_rib({PEER: ("ipv4 unicast",)})
    return book


def test_a_graceful_peer_gets_end_of_rib_after_its_full_set():
    book = graceful_book()
    book.set_desired({PEER: {A: PLAIN}, OTHER: {B: PLAIN}}, up=[])
    assert book.sync(PEER, full=True).lines == (announce(PEER, A), eor(PEER))
    assert book.sync(OTHER, full=True).lines == (announce(OTHER, B),)  # not graceful
    assert book.set_desired({PEER: {A: PLAIN, C: PLAIN}}, up=[PEER])[0].lines == (
        announce(PEER, C),)  # a later difference: no second End-of-RIB


def test_a_graceful_peer_up_before_the_first_plan_gets_end_of_rib_after_it():
    """Up before the speaker planned: an End-of-RIB then would make the peer drop every
    route it kept for us, so it waits for the first whole plan."""
    book = graceful_book()
    assert book.sync(PEER, full=True).lines == ()
    (cmds,) = book.set_desired({PEER: {A: PLAIN}}, up=[PEER])
    assert cmds.lines == (announce(PEER, A), eor(PEER))
    assert book.set_desired({PEER: {A: PLAIN}}, up=[PEER])[0].lines == ()


def test_an_exabgp_restart_forgets_an_end_of_rib_still_due():
    book = graceful_book()
    book.sync(PEER, full=True)
    book.forget_held()
    assert book.set_desired({PEER: {A: PLAIN}}, up=[PEER])[0].lines == (announce(PEER, A),)
