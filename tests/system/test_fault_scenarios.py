"""The fault suite: every scenario for a few seeded rounds against the whole system
(real controller and speaker processes with their rendered RBAC, ExaBGP, FRR). The
invariants are checked after every round, and continuously: every Service version the
API stored and router snapshots every 100 ms, replayed by lab/harness/transients.py.
bench/faults.py runs more rounds and prints the table."""

from __future__ import annotations

import os

import pytest

from lab.harness.scenarios import SCENARIOS, run_scenario
from lab.harness.stack import system_stack
from lab.harness.transients import describe

SEED = int(os.environ.get("METALLB_FAULT_SEED", "20261126"))
ROUNDS = {"node faults": 4, "API faults": 5}  # one round per fault kind


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_keeps_every_promise(name):
    _, options = SCENARIOS[name]
    with system_stack(seed=SEED, **options) as stack:
        for i in range(4):
            stack.create_service(f"base-{i}", local=i == 3)
        record = run_scenario(stack, name, ROUNDS.get(name, 2), SEED)
        print(record.row())
        assert not record.failures, "\n".join(record.failures)
        assert record.rounds == ROUNDS.get(name, 2)
        assert record.faults >= record.rounds
        assert record.stale_routes_final == 0
        seen = record.transients
        assert seen is not None and seen.samples > 0
        assert not seen.addresses_changed, seen.addresses_changed
        assert not seen.duplicates, seen.duplicates
        assert not seen.violations, describe(seen.violations)
        logs = stack.all_logs()
        tracebacks = [name for name, text in logs.items() if "Traceback" in text]
        assert not tracebacks, {n: logs[n][-3000:] for n in tracebacks}
