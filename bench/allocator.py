"""Allocator benchmark: is the cost per operation flat in the pool size and in the number
of services already allocated?

For a /16, a /8 and an IPv6 /64 pool it allocates 1k, 10k and 100k services (lowest address
first, as the controller does), then releases them in random order (the order that
fragments the free space most) and measures:

  alloc us/op    allocator.allocate per service (intents are built beforehand)
  release us/op  allocator.release per service, random order
  peak MiB       tracemalloc peak during allocate + release, in a separate run (tracing
                 slows Python down, so it never distorts the timings)

and prints the ratio of the per-operation cost at 100k to the cost at 1k (1.0 = flat),
i.e. against the 1k baseline measured in the same run. A /16 has only 65,536 addresses:
its 100k row allocates until the pool is full and says so.

Run: python3 bench/allocator.py   (about half a minute on 2 cores)

The /16 and /8 come from 10.0.0.0/8 because no documentation range is that large; the
benchmark is pure bookkeeping and announces nothing.
"""

from __future__ import annotations

import gc
import ipaddress
import random
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


@dataclass
class Row:
    pool: str
    requested: int
    allocated: int
    alloc_us: float  # with the garbage collector on, as in the controller
    release_us: float
    alloc_nogc_us: float  # the algorithm alone: Python's cyclic GC paused
    release_nogc_us: float
    peak_mib: float


def run_once(cidr: str, intents: list[ServiceIntent]) -> tuple[int, float, float]:
    """Allocate then release everything; returns (allocated, alloc s, release s)."""
    allocator = Allocator(make_config(cidr))
    keys = []
    start = time.perf_counter()
    for intent in intents:
        try:
            keys.append(allocator.allocate(intent).key)
        except AllocationError:
            break  # pool full (the /16 at 100k)
    alloc_s = time.perf_counter() - start
    random.Random(42).shuffle(keys)
    start = time.perf_counter()
    for key in keys:
        allocator.release(key)
    release_s = time.perf_counter() - start
    assert allocator.stats()["bench"].addresses_in_use == 0
    return len(keys), alloc_s, release_s


def best_of(cidr: str, intents: list[ServiceIntent], gc_on: bool) -> tuple[int, float, float]:
    """Fastest of a few runs: the machine may be shared, and the minimum is the least
    disturbed measurement."""
    repeats = 3 if len(intents) <= 10_000 else 2
    results = []
    for _ in range(repeats):
        gc.collect()
        if not gc_on:
            gc.disable()
        try:
            results.append(run_once(cidr, intents))
        finally:
            gc.enable()
    allocated = results[0][0]
    return allocated, min(r[1] for r in results), min(r[2] for r in results)


def measure(label: str, cidr: str, count: int) -> Row:
    family = ipaddress.ip_network(cidr).version
    intents = make_intents(count, family)
    allocated, alloc_s, release_s = best_of(cidr, intents, gc_on=True)
    _, alloc_nogc_s, release_nogc_s = best_of(cidr, intents, gc_on=False)
    gc.collect()
    tracemalloc.start()
    run_once(cidr, intents)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_op = 1e6 / allocated
    return Row(label, count, allocated, alloc_s * per_op, release_s * per_op,
               alloc_nogc_s * per_op, release_nogc_s * per_op, peak / 2**20)


def main() -> int:
    rows = [measure(label, cidr, n) for label, cidr in POOLS for n in SIZES]
    print("microseconds per operation (release in random order); 'no gc' = Python's cyclic")
    print("garbage collector paused, i.e. the allocator's own cost")
    print(f"{'pool':<10}{'services':>10}{'allocated':>11}{'alloc':>8}{'release':>9}"
          f"{'alloc no gc':>13}{'release no gc':>15}{'peak MiB':>10}")
    for r in rows:
        note = "  (pool full)" if r.allocated < r.requested else ""
        print(f"{r.pool:<10}{r.requested:>10,}{r.allocated:>11,}{r.alloc_us:>8.2f}"
              f"{r.release_us:>9.2f}{r.alloc_nogc_us:>13.2f}{r.release_nogc_us:>15.2f}"
              f"{r.peak_mib:>10.1f}{note}")
    print()
    print("cost per operation at 100k relative to 1k (1.00 = flat):")
    print(f"{'pool':<10}{'alloc':>8}{'release':>9}{'alloc no gc':>13}{'release no gc':>15}")
    for label, _ in POOLS:
        small = next(r for r in rows if r.pool == label and r.requested == SIZES[0])
        large = next(r for r in rows if r.pool == label and r.requested == SIZES[-1])
        print(f"{label:<10}{large.alloc_us / small.alloc_us:>8.2f}"
              f"{large.release_us / small.release_us:>9.2f}"
              f"{large.alloc_nogc_us / small.alloc_nogc_us:>13.2f}"
              f"{large.release_nogc_us / small.release_nogc_us:>15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
