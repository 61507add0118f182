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

Together: 10k /128s into FRR in ~0.25 s instead of ~0.9 s (README, bench/exabgp_raw.py).
Each result equals what ExaBGP computes itself (tests/bgp/test_exabgp_launcher_*.py);
the interop tests against FRR run through this launcher. guard.py installs the fixes
only into exactly the ExaBGP they were verified against (version and every
fingerprint); anything else runs unchanged, and the launcher says what differed in one
line on stderr (which the driver writes to ExaBGP's log file).

Importing this package imports nothing from ExaBGP; the fix modules do, and install.py
loads them only once the version matched.
"""
