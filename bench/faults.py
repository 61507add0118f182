"""Fault suite figures: every scenario of tests/system/test_fault_scenarios.py for more
rounds, one table.

Each scenario gets a fresh system (API emulator enforcing the rendered RBAC, FRR router
namespace, node namespaces, controller and speaker processes) and runs seeded rounds of
service bursts with faults injected at random points; after every round the invariants
(lab/harness/invariants.py) must hold. The seed is printed: rerun with --seed to
repeat a run. Needs root and FRR (like the tests).

    python bench/faults.py [--rounds 10] [--seed N] [--only "API faults"]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.harness.scenarios import HEADER, SCENARIOS, run_scenario
from lab.harness.stack import system_stack


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(HEADER, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
              for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds per scenario")
    parser.add_argument("--seed", type=int, default=None, help="default: random")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--only", action="append", choices=list(SCENARIOS),
                        help="run only this scenario (repeatable)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    print(f"seed={seed} rounds={args.rounds} nodes={args.nodes}", flush=True)
    rows, failed = [], []
    started = time.monotonic()
    for name in args.only or list(SCENARIOS):
        _, options = SCENARIOS[name]
        try:
            with system_stack(nodes=args.nodes, seed=seed, **options) as stack:
                for i in range(4):
                    stack.create_service(f"base-{i}", local=i == 3)
                record = run_scenario(stack, name, args.rounds, seed)
        except AssertionError as err:
            failed.append(f"{name}: {err}")
            continue
        failed.extend(f"{name}: {line}" for line in record.failures)
        rows.append(record.row())
        print(" ".join(record.row()), flush=True)
    print()
    print(table(rows))
    print(f"\nseed={seed}, {time.monotonic() - started:.0f} s in all")
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
