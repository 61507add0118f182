"""Fix 6: ExaBGP's options for the driver's command line without docopt.

`exabgp.application.bgp.main` parses its command line with docopt against the ~100-line
usage text; docopt builds its pattern tree from that text at every start, most of
ExaBGP's start-up time. The driver always passes configuration files only (no option),
and for that command line the parse result is fixed: every option off, the files as
`<configuration>`. `docopt_for_the_driver` returns that result for exactly ExaBGP's
usage text and such a command line, and calls docopt for anything else (`--version`,
`--debug`, ...). Fingerprinted with it: the usage text the result was derived from, and
`main`, which calls docopt.

Replaces `exabgp.vendoring.docopt.docopt`, verified against ExaBGP 4.2.25
(guard.VERIFIED_VERSION); the fingerprints are in FIX below.

Contract test: tests/bgp/test_exabgp_launcher.py (the options equal docopt's own for the
driver's command lines; other command lines still go through docopt).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from exabgp.application import bgp
from exabgp.configuration import usage as usage_text
from exabgp.configuration.usage import usage
from exabgp.vendoring import docopt

from .guard import Verified, attribute_fix

# docopt's result for `exabgp FILE...` with ExaBGP 4.2.25's usage text
_NOTHING_SET: dict[str, Any] = {
    **dict.fromkeys(["--de", "--debug", "--di", "--diff-env", "--diff-ini", "--fe", "--fi",
                     "--full-env", "--full-ini", "--help", "--memory", "--once", "--pdb",
                     "--test", "--validate", "--version", "-1", "-d", "-p", "-s", "-t"],
                    False),
    **dict.fromkeys(["--env", "--profile", "--root", "--run", "--signal"], None),
    **dict.fromkeys(["-=", "-A", "-E", "-G", "-H", "-M", "-S", "-X", "-_", "-x"], 0),
}


def driver_options(argv: list[str]) -> dict[str, Any] | None:
    """docopt's parse of the driver's command line (configuration files only), or None
    for any other command line."""
    if not argv or any(arg.startswith("-") for arg in argv):
        return None
    return {**_NOTHING_SET, "--decode": [], "<configuration>": list(argv)}


def docopt_for_the_driver(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap `docopt.docopt`: ExaBGP's own call for the driver's command line is answered
    without parsing; every other call goes to docopt."""

    @functools.wraps(original)
    def parse(doc: str, argv: list[str] | None = None, help: bool = True,
              version: Any = None, options_first: bool = False) -> Any:
        if doc == usage and not help and version is None and not options_first:
            options = driver_options(sys.argv[1:] if argv is None else list(argv))
            if options is not None:
                return options
        return original(doc, argv, help, version, options_first)

    return parse


FIX = attribute_fix(
    docopt, "docopt", "722dc83ab9cd2b945f8ceb3f4a4e836876c00282736005247f07645d281051b3",
    make=docopt_for_the_driver,
    relies_on=(
        Verified.attribute(usage_text, "usage",
                           "a87e997eddd8a359a883b66e99d063269e7b4a12f1d61a1d1e515937fe359a5a"),
        Verified.attribute(bgp, "main",
                           "7b05eb3d0efafe3ef3424cd6cf53b945fb0f54ab9d7b86040424abc189cd88fd"),
    ),
)
