"""Allocator benchmark: is the cost per operation flat in the pool size and in the number
of services already allocated, with the garbage collector on, as the controller runs?

For a /16, a /8 and an IPv6 /64 pool it allocates 1k, 10k and 100k services (lowest address
first, as the controller does), then releases them in random order (the order that
fragments the free space most) and measures:

  alloc us/op    allocator.allocate per service (intents are built beforehand)
  release us/op  allocator.release per service, random order
  ... no gc      the same with Python's cyclic garbage collector paused (the algorithm
                 alone); the controller runs with it on, so the flatness claim is the GC-on
                 column
  peak MiB       tracemalloc peak during allocate + release, in a separate run (tracing
                 slows Python down, so it never distorts the timings)

Times are this process's CPU time (time.process_time), so other processes on a shared
machine do not count while they hold the CPU (their effect on the caches still does).
Sizes are interleaved: every round measures 1k (the best of
several runs: one is only milliseconds long), 10k and 100k back to back, GC on and off.
The table shows the best round per size; "x 1k" is the cost per operation at 100k relative
to 1k (1.00 = flat): on the best rounds and the median of the per-round paired ratios. A
/16 has only 65,536 addresses: its 100k row allocates until the pool is full and says so.

Run: python3 bench/allocator.py [--rounds 5] [--json]   (a few minutes on 2 cores)

The /16 and /8 come from 10.0.0.0/8 because no documentation range is that large; the
benchmark is pure bookkeeping and announces nothing.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import random
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import Report, add_json_flag, paired_ratios, spread
from metallb.allocator.allocator import AllocationError, Allocator
from metallb.allocator.service import ServiceIntent
from metallb.config.model import AddressRange, Config, Pool

POOLS = [("/16", "10.0.0.0/16"), ("/8", "10.0.0.0/8"), ("IPv6 /64", "2001:db8::/64")]
SIZES = [1_000, 10_000, 100_000]


def make_config(cidr: str) -> Config:
    net = ipaddress.ip_network(cidr)
    entry = AddressRange(int(net.network_address), int(net.broadcast_address), net.version,
                         cidr, net.prefixlen)
    return Config(pools=(Pool(name="bench", protocol="bgp", ranges=(entry,)),))


def make_intents(count: int, family: int) -> list[ServiceIntent]:
    return [ServiceIntent(key=f"bench/svc-{i}", families=(family,)) for i in range(count)]


SMALL_RUNS = 10  # runs of the 1k size per round (the best counts)


@dataclass
class Row:
    pool: str
    requested: int
    allocated: int
    # microseconds per operation, one entry per round
    alloc_us: list[float]  # with the garbage collector on, as in the controller
    release_us: list[float]
    alloc_nogc_us: list[float]  # the algorithm alone: Python's cyclic GC paused
    release_nogc_us: list[float]
    peak_mib: float = 0.0


def run_once(cidr: str, intents: list[ServiceIntent]) -> tuple[int, float, float]:
    """Allocate then release everything; returns (allocated, alloc s, release s)."""
    allocator = Allocator(make_config(cidr))
    keys = []
    start = time.process_time()
    for intent in intents:
        try:
            keys.append(allocator.allocate(intent).key)
        except AllocationError:
            break  # pool full (the /16 at 100k)
    alloc_s = time.process_time() - start
    random.Random(42).shuffle(keys)
    start = time.process_time()
    for key in keys:
        allocator.release(key)
    release_s = time.process_time() - start
    assert allocator.stats()["bench"].addresses_in_use == 0
    return len(keys), alloc_s, release_s


def timed(cidr: str, intents: list[ServiceIntent], gc_on: bool,
          runs: int) -> tuple[int, float, float]:
    """Best of `runs` runs (allocated, alloc us/op, release us/op)."""
    results = []
    for _ in range(runs):
        gc.collect()
        if not gc_on:
            gc.disable()
        try:
            results.append(run_once(cidr, intents))
        finally:
            gc.enable()
    allocated = results[0][0]
    return (allocated, min(r[1] for r in results) * 1e6 / allocated,
            min(r[2] for r in results) * 1e6 / allocated)


def peak_mib(cidr: str, intents: list[ServiceIntent]) -> float:
    gc.collect()
    tracemalloc.start()
    run_once(cidr, intents)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def measure_pool(label: str, cidr: str, rounds: int) -> list[Row]:
    """Every size of one pool, `rounds` interleaved rounds."""
    family = ipaddress.ip_network(cidr).version
    intents = {n: make_intents(n, family) for n in SIZES}
    rows = {n: Row(label, n, 0, [], [], [], []) for n in SIZES}
    for _ in range(rounds):
        for n in SIZES:
            runs = SMALL_RUNS if n == SIZES[0] else 1
            row = rows[n]
            row.allocated, alloc, release = timed(cidr, intents[n], True, runs)
            row.alloc_us.append(alloc)
            row.release_us.append(release)
            _, alloc, release = timed(cidr, intents[n], False, runs)
            row.alloc_nogc_us.append(alloc)
            row.release_nogc_us.append(release)
    for n in SIZES:
        rows[n].peak_mib = peak_mib(cidr, intents[n])
    return list(rows.values())


COLUMNS = ("alloc_us", "release_us", "alloc_nogc_us", "release_nogc_us")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds per pool (default: %(default)s)")
    add_json_flag(parser)
    args = parser.parse_args()
    report = Report("allocator", args)
    rows = [row for label, cidr in POOLS for row in measure_pool(label, cidr, args.rounds)]
    report.table(
        "per_operation",
        ("pool", "services", "allocate", "release", "allocate, GC paused",
         "release, GC paused", "peak MiB"),
        [(r.pool, f"{r.requested:,}" + (f" (full at {r.allocated:,})"
                                         if r.allocated < r.requested else ""),
          *(f"{min(getattr(r, c)):.2f}" for c in COLUMNS), f"{r.peak_mib:.1f}")
         for r in rows],
        title=f"Microseconds per operation (best of {args.rounds} interleaved rounds); "
              "release in random order; peak memory by tracemalloc",
        raw=[vars(r) for r in rows])
    flat = []
    for label, _ in POOLS:
        small = next(r for r in rows if r.pool == label and r.requested == SIZES[0])
        large = next(r for r in rows if r.pool == label and r.requested == SIZES[-1])
        cells = []
        for column in COLUMNS:
            best = min(getattr(large, column)) / min(getattr(small, column))
            paired = spread(paired_ratios(getattr(large, column), getattr(small, column)))
            cells.append(f"{best:.2f} ({paired['median']:.2f})")
        flat.append((label, *cells))
    report.table(
        "x_1k", ("pool", "allocate", "release", "allocate, GC paused", "release, GC paused"),
        flat, title="Cost per operation at 100k relative to 1k (1.00 = flat): best rounds "
                    "(median of the per-round paired ratios)")
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
