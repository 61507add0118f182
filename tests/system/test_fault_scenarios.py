"""The fault suite: every scenario for a few seeded rounds against the whole system
(real controller and speaker processes with their rendered RBAC, ExaBGP, FRR). The
invariants are checked after every round, and continuously: every Service version the
API stored and router snapshots every 100 ms, replayed by lab/harness/transients.py.
bench/faults.py runs more rounds and prints the table.

Every scenario runs with the config in the ConfigMap; the one where the source matters
runs again with it as metallb.io objects: the config churn (an invalid or incompatible
set of objects is refused like the ConfigMap's). The speaker's kill -9 with the objects
(`CRDS_ROUNDS["node faults"] = 1`) passed for the engineer who wrote it and then, in one
CI run, had a route come back 2.27 s after the restart against the 2.00 s allowance: the
known open item of node faults (README "Not done yet"), so it is not in CI yet."""

from __future__ import annotations

import os

import pytest

from lab.harness.scenarios import SCENARIOS, run_scenario
from lab.harness.stack import CONFIGMAP, CRDS, system_stack
from lab.harness.transients import describe

SEED = int(os.environ.get("METALLB_FAULT_SEED", "20261126"))
ROUNDS = {"node faults": 4, "API faults": 5}  # one round per fault kind
# With the objects, a few rounds of the config churn.
CRDS_ROUNDS = {"config churn": 2}
CASES = [*((name, CONFIGMAP, ROUNDS.get(name, 2)) for name in SCENARIOS),
         *((name, CRDS, rounds) for name, rounds in CRDS_ROUNDS.items())]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("name", "source", "rounds"), [
    pytest.param(*case, id=f"{case[0]}-{case[1]}") for case in CASES])
def test_scenario_keeps_every_promise(name, source, rounds):
    _, options = SCENARIOS[name]
    with system_stack(seed=SEED, config_source=source, **options) as stack:
        for i in range(4):
            stack.create_service(f"base-{i}", local=i == 3)
        record = run_scenario(stack, name, rounds, SEED)
        print(record.row())
        assert not record.failures, "\n".join(record.failures)
        assert record.rounds == rounds
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
