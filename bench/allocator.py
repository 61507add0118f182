"""Allocator benchmark: is the cost per operation flat in the pool size and in the number
of services already allocated, with the garbage collector on, as the controller runs?

For a /16, a /8 and an IPv6 /64 pool it allocates 1k, 10k and 100k services (lowest address
first, as the controller does), then releases them, and measures microseconds per operation:

  allocate           allocator.allocate per service (intents are built beforehand: the
                     controller's informer cache holds the Services before it reconciles)
  release seq.       allocator.release per service, in allocation order
  release random     the same in random order (the order that fragments the free space
                     most and touches memory least locally)
  ... GC paused      allocate and random release with Python's cyclic garbage collector
                     paused (the algorithm alone); the controller runs with it on, so the
                     flatness claim is on the GC-on columns
  dict pop           the floor of "release random": the same keys, in the same random
                     order, popped from one plain dict built in allocation order (service
                     key -> the address as an integer of the pool's family): the least
                     any allocator that finds what a Service holds by its key touches per
                     release (the key, a slot of the table, the address). Its growth from
                     1k to 100k is the memory system's (1k fits in the CPU caches, 100k
                     does not), not an algorithm's, and a lower bound: in a loop that does
                     nothing else the CPU overlaps one pop's cache misses with the next
                     one's, which a release (2 µs of other work between them) cannot
  peak MiB           tracemalloc peak during allocate + release, in a separate run (tracing
                     slows Python down, so it never distorts the timings)

Times are this process's CPU time (time.process_time), so other processes on a shared
machine do not count while they hold the CPU (their effect on the caches still does).
Sizes are interleaved: every round measures 1k, 10k and 100k back to back, and every size
does the same work: 100 runs of 1k, 10 of 10k, one of 100k, timed in total (the 1k figure
used to be the best of 10 runs: a lucky minimum set against one 100k run that takes its
share of interruptions). "x 1k" is the cost per operation at 100k relative to 1k in the
same round (1.00 = flat), as min / median / max over the rounds.
A /16 has only 65,536 addresses: its 100k row allocates until the pool is full and says so.

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
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import Report, add_json_flag, paired_ratios, spread
from metallb.allocator.allocator import AllocationError, Allocator
from metallb.allocator.service import ServiceIntent
from metallb.config.model import AddressRange, Config, Pool

POOLS = [("/16", "10.0.0.0/16"), ("/8", "10.0.0.0/8"), ("IPv6 /64", "2001:db8::/64")]
SIZES = [1_000, 10_000, 100_000]
RANDOM, SEQUENTIAL = "random", "sequential"
# Row.us key -> (header, garbage collector on, release order of the run it comes from;
# None: not from an allocator run)
COLUMNS = {
    "alloc_us": ("allocate", True, RANDOM),
    "release_seq_us": ("release seq.", True, SEQUENTIAL),
    "release_us": ("release random", True, RANDOM),
    "alloc_nogc_us": ("allocate, GC paused", False, RANDOM),
    "release_nogc_us": ("release random, GC paused", False, RANDOM),
    "dict_floor_us": ("dict pop", True, None),  # no allocator run: timed_floor
}
RUNS = sorted({(gc_on, order) for _, gc_on, order in COLUMNS.values() if order},
              reverse=True)


def make_config(cidr: str) -> Config:
    net = ipaddress.ip_network(cidr)
    entry = AddressRange(int(net.network_address), int(net.broadcast_address), net.version,
                         cidr, net.prefixlen)
    return Config(pools=(Pool(name="bench", protocol="bgp", ranges=(entry,)),))


def make_intents(count: int, family: int) -> list[ServiceIntent]:
    return [ServiceIntent(key=f"bench/svc-{i}", families=(family,)) for i in range(count)]


@dataclass
class Row:
    pool: str
    requested: int
    allocated: int = 0
    # microseconds per operation: COLUMNS key -> one entry per round
    us: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in COLUMNS})
    peak_mib: float = 0.0


def run_once(cidr: str, intents: list[ServiceIntent], order: str) -> tuple[int, float, float]:
    """Allocate everything, then release it in `order`; (allocated, alloc s, release s)."""
    allocator = Allocator(make_config(cidr))
    keys = []
    start = time.process_time()
    for intent in intents:
        try:
            keys.append(allocator.allocate(intent).key)
        except AllocationError:
            break  # pool full (the /16 at 100k)
    alloc_s = time.process_time() - start
    if order == RANDOM:
        random.Random(42).shuffle(keys)
    start = time.process_time()
    for key in keys:
        allocator.release(key)
    release_s = time.process_time() - start
    assert allocator.stats()["bench"].addresses_in_use == 0
    return len(keys), alloc_s, release_s


def dict_floor_once(cidr: str, intents: list[ServiceIntent], count: int) -> float:
    """Seconds to pop `count` services in random order from one plain dict (see the
    module doc): the same keys and shuffle as run_once."""
    base = int(ipaddress.ip_network(cidr).network_address)
    held = {intent.key: base + i for i, intent in enumerate(intents[:count])}
    keys = list(held)
    random.Random(42).shuffle(keys)
    start = time.process_time()
    for key in keys:
        held.pop(key)
    return time.process_time() - start


def timed_floor(cidr: str, intents: list[ServiceIntent], count: int, runs: int) -> float:
    """`runs` runs of dict_floor_once timed in total: us per operation."""
    total = 0.0
    for _ in range(runs):
        gc.collect()
        total += dict_floor_once(cidr, intents, count)
    return total * 1e6 / (count * runs)


def timed(cidr: str, intents: list[ServiceIntent], gc_on: bool, order: str,
          runs: int) -> tuple[int, float, float]:
    """`runs` runs timed in total: (allocated per run, alloc us/op, release us/op)."""
    results = []
    for _ in range(runs):
        gc.collect()
        if not gc_on:
            gc.disable()
        try:
            results.append(run_once(cidr, intents, order))
        finally:
            gc.enable()
    allocated = results[0][0]
    operations = allocated * runs
    return (allocated, sum(r[1] for r in results) * 1e6 / operations,
            sum(r[2] for r in results) * 1e6 / operations)


def peak_mib(cidr: str, intents: list[ServiceIntent]) -> float:
    gc.collect()
    tracemalloc.start()
    run_once(cidr, intents, RANDOM)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def measure_pool(label: str, cidr: str, rounds: int) -> list[Row]:
    """Every size of one pool, `rounds` interleaved rounds."""
    family = ipaddress.ip_network(cidr).version
    intents = {n: make_intents(n, family) for n in SIZES}
    rows = {n: Row(label, n) for n in SIZES}
    for _ in range(rounds):
        for n in SIZES:
            row = rows[n]
            for gc_on, order in RUNS:
                row.allocated, alloc, release = timed(
                    cidr, intents[n], gc_on, order, SIZES[-1] // n)
                for column, (_, column_gc, column_order) in COLUMNS.items():
                    if (column_gc, column_order) == (gc_on, order):
                        row.us[column].append(alloc if column.startswith("alloc") else release)
            row.us["dict_floor_us"].append(timed_floor(cidr, intents[n], row.allocated,
                                                       SIZES[-1] // n))
    for n in SIZES:
        rows[n].peak_mib = peak_mib(cidr, intents[n])
    return list(rows.values())


def ratio_cell(large: list[float], small: list[float]) -> str:
    s = spread(paired_ratios(large, small))
    return f"{s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds per pool (default: %(default)s)")
    add_json_flag(parser)
    args = parser.parse_args()
    report = Report("allocator", args)
    rows = [row for label, cidr in POOLS for row in measure_pool(label, cidr, args.rounds)]
    headers = [header for header, _, _ in COLUMNS.values()]
    report.table(
        "per_operation", ("pool", "services", *headers, "peak MiB"),
        [(r.pool, f"{r.requested:,}" + (f" (full at {r.allocated:,})"
                                         if r.allocated < r.requested else ""),
          *(f"{spread(r.us[c])['median']:.2f}" for c in COLUMNS), f"{r.peak_mib:.1f}")
         for r in rows],
        title=f"Microseconds per operation, median of {args.rounds} interleaved rounds; "
              "peak memory by tracemalloc",
        raw=[{"pool": r.pool, "requested": r.requested, "allocated": r.allocated,
              "peak_mib": r.peak_mib, **r.us} for r in rows])
    flat = []
    for label, _ in POOLS:
        small = next(r for r in rows if r.pool == label and r.requested == SIZES[0])
        large = next(r for r in rows if r.pool == label and r.requested == SIZES[-1])
        flat.append((label, *(ratio_cell(large.us[c], small.us[c]) for c in COLUMNS)))
    report.table(
        "x_1k", ("pool", *headers), flat,
        title="Cost per operation at 100k relative to 1k in the same round (1.00 = flat): "
              f"min / median / max over {args.rounds} rounds")
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
