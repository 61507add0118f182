"""Release in random order, 100k vs 1k services, garbage collector on: the used-index
bitmap against the interval set it replaced, and the old baseline (best of 10 runs of 1k)
against the fair one (100 runs of 1k timed in total, the work of one 100k run).

A short companion of bench/allocator.py for a machine too loaded to run that in full;
the same harness (run_once, timed), one column. Run: python3 bench/allocator_release.py
[--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import allocator as bench
from bench.report import Report, add_json_flag, paired_ratios, spread
from metallb.allocator import allocator as allocator_module
from metallb.allocator.bitmap import IndexBitmap
from metallb.allocator.intervals import IntervalSet

POOLS = [("/8", "10.0.0.0/8"), ("IPv6 /64", "2001:db8::/64")]
STRUCTURES = {"interval set (before)": IntervalSet, "bitmap (now)": IndexBitmap}


def use(structure: type) -> None:
    """Make the allocator keep its used indexes in `structure`."""
    allocator_module.IndexBitmap = structure  # type: ignore[misc]


def release_us(cidr: str, intents: list, runs: int, best: bool = False) -> float:
    if best:
        return min(bench.timed(cidr, intents, True, bench.RANDOM, 1)[2] for _ in range(runs))
    return bench.timed(cidr, intents, True, bench.RANDOM, runs)[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    add_json_flag(parser)
    args = parser.parse_args()
    report = Report("allocator_release", args)
    rows, raw = [], []
    for label, cidr in POOLS:
        family = ipaddress.ip_network(cidr).version
        small, large = bench.make_intents(1_000, family), bench.make_intents(100_000, family)
        for name, structure in STRUCTURES.items():
            use(structure)
            us: dict[str, list[float]] = {"1k_best_of_10": [], "1k_total_of_100": [],
                                          "100k": []}
            for _ in range(args.rounds):
                us["1k_best_of_10"].append(release_us(cidr, small, 10, best=True))
                us["1k_total_of_100"].append(release_us(cidr, small, 100))
                us["100k"].append(release_us(cidr, large, 1))
            med = {k: spread(v)["median"] for k, v in us.items()}
            old = spread(paired_ratios(us["100k"], us["1k_best_of_10"]))
            new = spread(paired_ratios(us["100k"], us["1k_total_of_100"]))
            rows.append((label, name, f"{med['1k_best_of_10']:.2f}",
                         f"{med['1k_total_of_100']:.2f}", f"{med['100k']:.2f}",
                         f"{old['min']:.2f} / {old['median']:.2f} / {old['max']:.2f}",
                         f"{new['min']:.2f} / {new['median']:.2f} / {new['max']:.2f}"))
            raw.append({"pool": label, "structure": name, **us})
    use(IndexBitmap)
    report.table(
        "release_random", ("pool", "used indexes", "1k best of 10", "1k total of 100", "100k",
                           "x 1k (best of 10)", "x 1k (total of 100)"),
        rows, title="Release in random order, GC on, microseconds per release (median of "
                    f"{args.rounds} rounds); x 1k per round: min / median / max", raw=raw)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
