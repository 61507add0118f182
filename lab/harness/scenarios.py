"""Fault scenarios, shared by tests/system/test_fault_scenarios.py and bench/faults.py.

Each scenario is a function doing one round against a running `Stack`: some churn of
services (a burst of creates and deletes from another thread), faults injected at random
moments (seeded), the fault healed, then the invariants polled until they hold. It also
tells the `Record` what only it knows: when each fault started and was healed, which
node stopped announcing. Throughout the rounds an `Observer` records every API version
and router snapshot; `Record.finish` replays them (transients.py). A `Record` keeps what
the README table reports.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from lab.harness.invariants import Verdict
from lab.harness.observer import Observer
from lab.harness.stack import APP_NAMESPACE, Stack, config_text, link
from lab.harness.transients import Allowance, Timeline, Transients, replay
from metallb.component.labels import NAMESPACE
from metallb.wait import poll_until

LEASE = "metallb-controller"
_names = itertools.count()


@dataclass
class Record:
    """The figures of one scenario over all its rounds.

    Two kinds: the final state after each healed fault (`converged`: the invariants
    polled until they hold; `stale_routes_final` counts what was still wrong when a
    round never converged), and the continuous figures over the whole run
    (`transients`, replayed from the observer's timeline by `finish`)."""

    scenario: str
    seed: int
    rounds: int = 0
    faults: int = 0
    services_checked: int = 0
    stale_routes_final: int = 0
    max_reconverge: float = 0.0
    observer: Observer | None = None
    allowance: Allowance = field(default_factory=Allowance)
    transients: Transients | None = None
    timeline: Timeline | None = None  # what `transients` was replayed from
    failures: list[str] = field(default_factory=list)

    def converged(self, stack: Stack, healed_at: float, timeout: float = 90.0,
                  announcing: list[str] | None = None) -> None:
        """Wait for the invariants after a healed fault; record the time and figures.
        A round that never converges is recorded (with what was wrong), not raised, so
        the benchmark can report it; the tests assert there were none."""
        verdict = self._settle(stack, timeout, announcing)
        self.stale_routes_final += len(verdict.stale_routes) + len(verdict.wrong_nexthops)
        self.max_reconverge = max(self.max_reconverge, time.monotonic() - healed_at)
        self.rounds += 1

    def settled(self, stack: Stack, announcing: list[str], timeout: float = 60.0) -> None:
        """A check in the middle of a round (say, while a node is down)."""
        self._settle(stack, timeout, announcing)

    def _settle(self, stack: Stack, timeout: float, announcing: list[str] | None) -> Verdict:
        try:
            verdict = stack.wait_converged(timeout, announcing)
        except AssertionError as err:
            verdict = stack.checker.check(stack.snapshot(), announcing)
            self.failures.append(f"round {self.rounds + 1}: {err}")
        self.services_checked += verdict.services
        return verdict

    # -- what the observer needs from the scenario ----------------------------------
    def fault(self, start: float, end: float, what: str, sessions: bool = False) -> None:
        """A fault from `start`, healed at `end` (see transients.FaultWindow);
        `sessions`: it takes BGP sessions down."""
        if self.observer is not None:
            self.observer.fault(start, end, what, sessions)

    def node(self, name: str, announcing: bool) -> float:
        """Mark a node's speaker (not) expected to announce from now on; returns now."""
        return self.observer.mark_node(name, announcing) if self.observer \
            else time.monotonic()

    def finish(self, stack: Stack) -> None:
        """Stop the observer and replay its timeline into the continuous figures."""
        if self.observer is None:
            return
        self.observer.stop()
        self.failures.extend(self.observer.errors)
        self.timeline = self.observer.timeline()
        self.transients = replay(self.timeline, stack.checker.nodes, self.allowance)

    # -- reporting -------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        """Everything bench/faults.py prints (the README columns and more)."""
        out: dict[str, Any] = {
            "scenario": self.scenario, "seed": self.seed, "rounds": self.rounds,
            "faults": self.faults, "services_checked": self.services_checked,
            "stale_routes_final": self.stale_routes_final,
            "longest_reconverge_s": round(self.max_reconverge, 3),
            "failures": len(self.failures),
        }
        if self.transients is not None:
            out.update(self.transients.figures())
        return out

    def row(self) -> list[str]:
        return row_of(self.figures())


def row_of(f: dict[str, Any]) -> list[str]:
    """One README table row (HEADER) from a scenario's figures (`Record.figures`)."""
    return [f["scenario"], str(f["rounds"]), str(f["faults"]),
            str(f.get("addresses_changed", "?")), str(f.get("duplicates", "?")),
            f"{f.get('transient_violations', '?')} / {f.get('transient_episodes', '?')}",
            f"{f.get('longest_stale_s', 0):.2f} s / {f.get('median_stale_s', 0):.2f} s",
            f"{f.get('longest_missing_s', 0):.2f} s / {f.get('median_missing_s', 0):.2f} s",
            f"{f.get('longest_session_down_s', 0):.2f} s",
            str(f["stale_routes_final"]), f"{f['longest_reconverge_s']:.2f} s"]


HEADER = ["scenario", "rounds", "faults injected", "addresses changed", "duplicates",
          "violations / episodes", "stale route: longest / median",
          "missing route: longest / median", "BGP session down: longest",
          "stale routes (final)", "longest reconverge"]


MAX_SERVICES = 40
"""A burst deletes more when needed to stay at or under this many services, so a long
run (100 rounds add 500) neither exhausts the /24 pool nor slows every check down."""


class Burst:
    """Creates `creates` services and deletes `deletes` existing ones (more if there
    would be over MAX_SERVICES) from a thread, retrying writes the emulator fails on
    purpose."""

    def __init__(self, stack: Stack, rng: random.Random, creates: int = 8,
                 deletes: int = 3):
        existing = stack.service_names()
        deletes = max(deletes, len(existing) + creates - MAX_SERVICES)
        self.stack = stack
        self.to_delete = rng.sample(existing, min(deletes, len(existing)))
        self.to_create = [f"svc-{next(_names):04d}" for _ in range(creates)]
        self.local = {n for n in self.to_create if rng.random() < 0.25}
        self.error: BaseException | None = None
        self.done = 0  # operations finished, to strike at a random point of the burst
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            ops = [("create", n) for n in self.to_create] + [("delete", n)
                                                              for n in self.to_delete]
            random.Random(len(ops)).shuffle(ops)
            for op, name in ops:
                if op == "create":
                    _retry(lambda n=name: self.stack.create_service(n, local=n in self.local))
                else:
                    self.stack.delete_service(name)
                self.done += 1
        except BaseException as err:
            self.error = err

    def start(self) -> Burst:
        self.thread.start()
        return self

    @property
    def size(self) -> int:
        return len(self.to_create) + len(self.to_delete)

    def reach(self, rng: random.Random) -> None:
        """Return once a random share of the burst is done (strictly inside it)."""
        target = rng.randint(1, max(1, self.size - 1))
        poll_until(lambda: self.done >= target or self.error or not self.thread.is_alive(),
                   timeout=60, interval=0.005, max_interval=0.02,
                   what=f"{target} operations of the burst")

    def join(self) -> None:
        self.thread.join(120)
        assert not self.thread.is_alive(), "burst never finished"
        assert self.error is None, f"burst failed: {self.error!r}"


def _retry(write: Callable[[], None], attempts: int = 30) -> None:
    """A create that hit an injected 500 (or a 409 because the first try had in fact
    succeeded) is retried / accepted, as a user's `kubectl apply` would be."""
    for attempt in range(attempts):
        try:
            write()
            return
        except ApiException as err:
            if err.status == 409 and attempt > 0:
                return
            if err.status < 500 and err.status != 409 and err.status != 429:
                raise
    raise AssertionError("a write kept failing")


# ------------------------------------------------------------------------- scenarios


def controller_kill9(stack: Stack, rng: random.Random, rec: Record) -> None:
    """kill -9 the controller at a random moment of a burst; start a new one."""
    victim = stack.controllers[0]
    burst = Burst(stack, rng).start()
    burst.reach(rng)
    killed = time.monotonic()
    victim.kill()
    rec.faults += 1
    burst.join()
    stack.retire_controller(victim)
    healed = time.monotonic()
    stack.start_controller("--disable-leader-election")
    rec.fault(killed, healed, "controller down")
    rec.converged(stack, healed)


def leader_kill9(stack: Stack, rng: random.Random, rec: Record) -> None:
    """Two replicas with leader election: kill -9 the leader mid-burst; a third replica
    replaces it (as the Deployment would) and the standby must take over."""
    coordination = client.CoordinationV1Api(stack.admin)

    def holder() -> str:
        try:
            return coordination.read_namespaced_lease(LEASE, NAMESPACE).spec.holder_identity
        except ApiException:
            return ""

    by_id = {p.identity: p for p in stack.controllers}
    leader_id = poll_until(lambda: holder() in by_id and holder(), timeout=30,
                           what="a live leader")
    leader = by_id[leader_id]
    burst = Burst(stack, rng).start()
    burst.reach(rng)
    leader.kill()
    rec.faults += 1
    healed = time.monotonic()
    rec.fault(healed, healed, "leader killed")
    burst.join()
    stack.retire_controller(leader)
    stack.start_controller()
    rec.converged(stack, healed)


API_FAULTS = ("500s", "latency", "cut_watches", "410", "409")


def api_faults(stack: Stack, rng: random.Random, rec: Record) -> None:
    """One API fault kind per round (rotating, random strength) during a burst."""
    faults = stack.server.faults
    kind = API_FAULTS[rec.rounds % len(API_FAULTS)]
    faults.reseed(rng.randrange(1 << 30))
    before = faults.injected
    burst = Burst(stack, rng)
    started = time.monotonic()
    if kind == "500s":
        faults.fail_share(rng.uniform(0.2, 0.5), code=500,
                          verbs={"update", "patch", "list", "watch", "get"})
        faults.cut_watches()  # the relists and re-watches meet the 500s too
    elif kind == "latency":
        faults.add_latency(rng.uniform(0.05, 0.3))
    elif kind == "410":
        faults.force_status(410, count=rng.randint(1, 4), verbs={"watch"})
        faults.cut_watches()
    elif kind == "409":
        faults.force_status(409, count=rng.randint(2, 6), verbs={"update", "patch"},
                            resources={"services/status"})
    burst.start()
    if kind == "cut_watches":
        for _ in range(rng.randint(2, 4)):
            burst.reach(rng)
            faults.cut_watches()
            rec.faults += 1
    burst.join()
    faults.clear()
    rec.faults += faults.injected - before
    healed = time.monotonic()
    rec.fault(started, healed, f"API {kind}")
    rec.converged(stack, healed)


NODE_FAULTS = ("speaker_kill9", "exabgp_kill9", "frr_restart", "link_flap")


def node_faults(stack: Stack, rng: random.Random, rec: Record) -> None:
    """One data-plane fault per round (rotating) on a random node, during a burst."""
    kind = NODE_FAULTS[rec.rounds % len(NODE_FAULTS)]
    name = rng.choice(stack.node_names)
    node = stack.node(name)
    burst = Burst(stack, rng, creates=5, deletes=2).start()
    burst.reach(rng)
    if kind == "speaker_kill9":
        started = rec.node(name, announcing=False)
        stack.speakers[name].kill()
        rec.faults += 1
        burst.join()
        # While it is dead the router must drop the node (its ExaBGP must not live on).
        rec.settled(stack, [n for n in stack.node_names if n != name])
        stack.retire_speaker(name)
        healed = rec.node(name, announcing=True)
        stack.start_speaker(name)
    elif kind == "exabgp_kill9":
        started = time.monotonic()
        pids = stack.speakers[name].exabgp_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        rec.faults += 1
        healed = time.monotonic()
        burst.join()
    elif kind == "frr_restart":
        started = time.monotonic()
        stack.lab.router.restart()
        rec.faults += 1
        healed = time.monotonic()
        burst.join()
    else:
        started = rec.node(name, announcing=False)
        link(node, up=False)
        rec.faults += 1
        try:
            burst.join()
            # The hold time (3 s) expires: the router must drop the node.
            rec.settled(stack, [n for n in stack.node_names if n != name])
        finally:
            link(node, up=True)
        healed = rec.node(name, announcing=True)
    rec.fault(started, healed, kind, sessions=True)
    rec.converged(stack, healed)


CONFIGS = ("extra_pool", "invalid", "incompatible", "base")


def config_churn(stack: Stack, rng: random.Random, rec: Record) -> None:
    """Valid, invalid (unparseable) and incompatible (would take addresses away)
    configs applied at random moments of a burst; the last one applied is valid."""
    burst = Burst(stack, rng).start()
    started: float | None = None
    for _ in range(rng.randint(2, 4)):
        burst.reach(rng)
        started = started or time.monotonic()
        kind = rng.choice(CONFIGS)
        if kind == "invalid":
            stack.set_invalid_config()
        else:
            stack.set_config({
                "extra_pool": config_text(extra_pool=True),
                "incompatible": config_text(drop_main=True, extra_pool=True),
                "base": config_text(),
            }[kind])
        rec.faults += 1
    burst.join()
    stack.set_config(config_text(extra_pool=rng.random() < 0.5))
    healed = time.monotonic()
    rec.fault(started or healed, healed, "config churn")
    rec.converged(stack, healed)


SCENARIOS: dict[str, tuple[Callable[[Stack, random.Random, Record], None], dict]] = {
    # name -> (one round, system_stack options)
    "controller kill -9": (controller_kill9, {}),
    "leader kill -9 (2 replicas)": (leader_kill9, {"controllers": 2,
                                                   "leader_election": True}),
    "API faults": (api_faults, {}),
    "node faults": (node_faults, {}),
    "config churn": (config_churn, {}),
}


def run_scenario(stack: Stack, name: str, rounds: int, seed: int,
                 budget_s: float | None = None) -> Record:
    """`rounds` rounds, or as many as start within `budget_s` seconds (the record says
    how many ran)."""
    one_round, _ = SCENARIOS[name]
    rng = random.Random(seed)
    rec = Record(name, seed)
    print(f"scenario={name!r} seed={seed} rounds={rounds}", flush=True)
    stack.wait_converged(60)
    started = time.monotonic()
    rec.observer = Observer(stack.server, stack.lab.router, APP_NAMESPACE).start()
    try:
        for i in range(rounds):
            if budget_s is not None and time.monotonic() - started > budget_s:
                print(f"budget of {budget_s:.0f} s used: stopped after {i} rounds", flush=True)
                break
            one_round(stack, rng, rec)
            if (i + 1) % 10 == 0:
                print(f"  {i + 1} rounds, {time.monotonic() - started:.0f} s", flush=True)
    finally:
        rec.finish(stack)
    rec.failures.extend(f"RBAC refused: {d.message}" for d in stack.server.denials[:5])
    return rec
