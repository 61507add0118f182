"""The router kinds the lab can run, and how to make one (the one place that maps a
`--router` name to its module)."""

from __future__ import annotations

from pathlib import Path

from lab.harness.requires import require_program, require_root
from lab.routers.base import RouterSpec, UpstreamRouter
from lab.routers.bird import BirdRouter
from lab.routers.frr import FrrUpstream
from lab.routers.gobgp import GobgpRouter

KINDS = ("frr", "bird", "gobgp")
DEFAULT_KIND = "frr"
_CLASSES = {"frr": FrrUpstream, "bird": BirdRouter, "gobgp": GobgpRouter}
_PROGRAMS = {"frr": [("/usr/lib/frr/zebra", "frr"), ("/usr/lib/frr/bgpd", "frr"),
                     ("vtysh", "frr")],
             "bird": [("bird", "bird2"), ("birdc", "bird2")],
             "gobgp": [("gobgpd", "gobgpd"), ("gobgp", "gobgpd")]}


def make_router(kind: str, netns: str, spec: RouterSpec,
                state_dir: str | Path) -> UpstreamRouter:
    """An unstarted router of `kind` in `netns`; ValueError for an unknown kind."""
    if kind not in _CLASSES:
        raise ValueError(f"router kind {kind!r}: choose one of {', '.join(KINDS)}")
    return _CLASSES[kind](netns, spec, state_dir)


def require_router(kind: str) -> None:
    """`requires.Missing` (a skip, a failure in strict CI) when `kind` is not installed."""
    require_root()
    for program, package in _PROGRAMS[kind]:
        require_program(program, package)
