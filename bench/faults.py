"""Fault suite figures: every scenario of tests/system/test_fault_scenarios.py for more
rounds, one table.

Each scenario gets a fresh system (API emulator enforcing the rendered RBAC, FRR router
namespace, node namespaces, controller and speaker processes) and runs seeded rounds of
service bursts with faults injected at random points; after every round the invariants
(lab/harness/invariants.py) must hold. Throughout the run, every Service and
EndpointSlice version and router snapshots every 100 ms are recorded and replayed
(lab/harness/transients.py) into the continuous figures. The seed is printed: rerun
with --seed to repeat a run. Needs root and FRR (like the tests).

    python bench/faults.py [--rounds 100] [--seed N] [--only "API faults"] [--json]
                           [--budget-s SECONDS] [--save-timeline DIR]
    python bench/faults.py --replay DIR/node-faults.json.gz

With --json the last line is one JSON object: the seed, the allowances, and the figures
of every scenario (`transient_violations`, `addresses_changed`, `duplicates`,
`stale_routes_final`, `rounds`, `longest_reconverge_s`, episode durations, ...).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import random
import sys
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.harness.scenarios import HEADER, SCENARIOS, Record, row_of, run_scenario
from lab.harness.stack import system_stack
from lab.harness.transients import (
    Allowance,
    describe,
    explain,
    replay,
    timeline_from_json,
    timeline_to_json,
)


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(HEADER, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
              for r in rows]
    return "\n".join(lines)


def save_timeline(directory: Path, name: str, record: Record, nodes: Mapping[str, str]) -> None:
    """The recording of one scenario, gzipped JSON: {"nodes", "timeline"}."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name.replace(" ", "-").replace("/", "-") + ".json.gz")
    with gzip.open(path, "wt") as f:
        json.dump({"nodes": dict(nodes), "timeline": timeline_to_json(record.timeline)}, f)
    print(f"recording: {path}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100, help="rounds per scenario")
    parser.add_argument("--seed", type=int, default=None, help="default: random")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--only", action="append", choices=list(SCENARIOS),
                        help="run only this scenario (repeatable)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="per scenario: start no round after this many seconds")
    parser.add_argument("--table-from", action="append", metavar="FILE",
                        help="print the table of earlier --json runs (every JSON line of "
                             "FILE) and exit; repeatable")
    parser.add_argument("--save-timeline", metavar="DIR", type=Path,
                        help="write each scenario's recording (every API version and "
                             "router sample) to DIR/<scenario>.json.gz, for replaying later")
    parser.add_argument("--replay", metavar="FILE", type=Path,
                        help="replay a --save-timeline recording with today's rules, print "
                             "its figures and violations as JSON, and exit")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as one JSON object on the last line")
    args = parser.parse_args()
    if args.table_from:
        runs = [json.loads(line) for f in args.table_from
                for line in Path(f).read_text().splitlines() if line.startswith("{")]
        print(table([row_of(s) for run in runs for s in run["scenarios"]]))
        return 0
    if args.replay:
        with gzip.open(args.replay, "rt") as f:
            saved = json.load(f)
        timeline = timeline_from_json(saved["timeline"])
        seen = replay(timeline, saved["nodes"])
        print(json.dumps({**seen.figures(), "violation_detail": explain(
            timeline, saved["nodes"], seen.violations)}))
        return 0
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    print(f"seed={seed} rounds={args.rounds} nodes={args.nodes}", flush=True)
    rows, failed, figures = [], [], []
    started = time.monotonic()
    for name in args.only or list(SCENARIOS):
        _, options = SCENARIOS[name]
        try:
            with system_stack(nodes=args.nodes, seed=seed, **options) as stack:
                for i in range(4):
                    stack.create_service(f"base-{i}", local=i == 3)
                record = run_scenario(stack, name, args.rounds, seed, args.budget_s)
        except AssertionError as err:
            failed.append(f"{name}: {err}")
            continue
        failed.extend(f"{name}: {line}" for line in record.failures)
        if args.save_timeline and record.timeline is not None:
            save_timeline(args.save_timeline, name, record, stack.checker.nodes)
        rows.append(record.row())
        figures.append(record.figures())
        if record.transients and record.timeline:
            figures[-1]["violation_detail"] = explain(
                record.timeline, stack.checker.nodes, record.transients.violations)
        print(" | ".join(record.row()), flush=True)
        if record.transients and record.transients.violations:
            print(f"  violations: {describe(record.transients.violations, 20)}", flush=True)
    print()
    print(table(rows))
    print(f"\nseed={seed}, {time.monotonic() - started:.0f} s in all")
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    if args.json:
        print(json.dumps({"seed": seed, "rounds": args.rounds, "nodes": args.nodes,
                          "allowance_s": dataclasses.asdict(Allowance()),
                          "elapsed_s": round(time.monotonic() - started, 1),
                          "failed": failed, "scenarios": figures}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
