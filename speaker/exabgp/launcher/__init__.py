"""Run ExaBGP 4.2.25 with five costs removed from its route path, one from its start.

    python -m speaker.exabgp.launcher <exabgp arguments>

Profiling the speaker's 10k-route burst (bench/exabgp_raw.py, cProfile on ExaBGP) showed
five things in ExaBGP 4.2.25 that cost more than the work itself, and its start-up is
mostly docopt. One module per fix, each naming what it replaces, with the fingerprint
of the original it was verified against and its contract test:

1. lean_remove_self.py: `Neighbor.remove_self` deep-copies every route (~40 % of
   ExaBGP's time); the fix copies only what the next hop rewrite changes.
2. grouped_updates.py: `OutgoingRIB.updates` groups only IPv4 routes into one UPDATE;
   the fix groups every unicast family.
3. no_sleep_while_busy.py: `Reactor._wait_for_io` sleeps up to 10 ms between slices of
   a pending API command; the fix does not sleep while API work is pending.
4. routes_per_turn.py: `ASYNC.LIMIT` lets 50 routes of an API command through per
   reactor turn; the fix lets 1000 (the driver's batch).
5. batched_attributes.py: the `announce|withdraw attributes ... nlri ...` handlers
   parse every prefix through the configuration tokeniser; the fix parses the
   attributes once.
6. driver_options.py: ExaBGP parses its command line with docopt, most of its start-up
   time; for the driver's command line (configuration files only) the fix returns the
   fixed result docopt would give, without parsing.

Together they cut the time ExaBGP takes to hand many routes to FRR, and its start-up;
the figures, measured against ExaBGP as released in the same run, are in the README
(bench/exabgp_raw.py).
Each result equals what ExaBGP computes itself (tests/bgp/test_exabgp_launcher_*.py);
the interop tests against FRR run through this launcher. guard.py installs the fixes
only into exactly the ExaBGP they were verified against (version and every
fingerprint); anything else runs unchanged, and the launcher says what differed in one
line on stderr (which the driver writes to ExaBGP's log file).

Importing this package imports nothing from ExaBGP; the fix modules do, and install.py
loads them only once the version matched.

Start-up (bench/exabgp_raw.py --startup-only): the launcher runs as `python -S`, so the
interpreter processes no site-packages `.pth` files (on some hosts most of a bare
interpreter's start); `import_path()` names the directories it needs instead, and the
driver puts them in PYTHONPATH (speaker/exabgp/config.py: exabgp_env). The fingerprints
of the guard are cached between starts (guard.FingerprintCache).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def command() -> list[str]:
    """The launcher's command line, without ExaBGP's arguments."""
    return [sys.executable, "-S", "-m", "speaker.exabgp.launcher"]


def import_path() -> list[str]:
    """Where the launcher and ExaBGP are imported from (for PYTHONPATH, as `-S` leaves
    site-packages out): the directory above the `speaker` package and the one above
    `exabgp` (found without importing ExaBGP), in that order, each once."""
    roots = [str(Path(__file__).resolve().parents[3])]
    spec = importlib.util.find_spec("exabgp")
    if spec is not None and spec.origin:
        roots.append(str(Path(spec.origin).resolve().parents[1]))
    return list(dict.fromkeys(roots))
