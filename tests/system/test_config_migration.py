"""Live migration from the legacy ConfigMap to metallb.io objects (issue 14, "Which
source"): the whole system (controller and two speaker processes with their rendered
RBAC, ExaBGP, FRR) runs on the ConfigMap; the objects `metallb config convert` makes of
it are applied one by one, as `kubectl apply` does (slowly, so every partial config
takes effect), then the ConfigMap is deleted. A
recording of every Service version the API stored and of FRR's BGP table and the
router's kernel table every 100 ms shows no address changed and no route withdrawn or
flapped at any instant."""

from __future__ import annotations

import pytest

from lab.harness.config_objects import converted, put_objects
from lab.harness.observer import Observer
from lab.harness.stack import APP_NAMESPACE, config_text, system_stack
from lab.harness.transients import describe, replay
from metallb.component.labels import NAMESPACE
from metallb.wait import poll_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(240)]

SERVICES = 12
MORE_SAMPLES = 10  # ~1 s of router samples recorded after the last step
STEP_SAMPLES = 5  # ~0.5 s: the daemons act on each partial config before the next object


def _switched(stack) -> bool:
    procs = [*stack.controllers, *stack.speakers.values()]
    return all("event=config_source source=crds" in p.log_text() for p in procs)


def _wait_samples(observer: Observer, count: int, when: str) -> None:
    """Until the observer took `count` more router samples."""
    target = len(observer.samples) + count
    poll_until(lambda: len(observer.samples) >= target, 30, what=f"router samples {when}")


def test_configmap_to_objects_migration_moves_no_address_and_flaps_no_route():
    with system_stack(nodes=2, config=config_text(extra_pool=True)) as stack:
        for i in range(SERVICES):
            stack.create_service(f"svc-{i}", local=i % 4 == 3)
        before = stack.wait_converged()
        assert before is not None
        nodes = {name: stack.node(name).ipv4 for name in stack.node_names}
        observer = Observer(stack.server, stack.lab.router, APP_NAMESPACE).start()
        try:
            _wait_samples(observer, MORE_SAMPLES, "before the migration")
            objects = converted(config_text(extra_pool=True), NAMESPACE)
            for count in range(1, len(objects) + 1):
                # One at a time, each seen by the daemons for a few samples: every
                # partial config along the way is on the record.
                put_objects(stack.admin, NAMESPACE, objects[:count])
                _wait_samples(observer, STEP_SAMPLES, f"with {count} object(s) applied")
            poll_until(lambda: _switched(stack), 60,
                       what="controller and speakers on the metallb.io objects")
            poll_until(lambda: any(e.reason == "ConfigMapIgnored" for e in
                                   stack.core.list_namespaced_event(NAMESPACE).items),
                       30, what="the Event on the ignored ConfigMap")
            stack.core.delete_namespaced_config_map("metallb", NAMESPACE)
            # A service created after the ConfigMap is gone is allocated and announced
            # from the objects.
            stack.create_service("after")
            stack.wait_converged()
            _wait_samples(observer, MORE_SAMPLES, "after the migration")
        finally:
            observer.stop()
        assert not observer.errors, observer.errors
        timeline = observer.timeline()
        result = replay(timeline, nodes)
        assert result.samples > 2 * MORE_SAMPLES
        assert not result.addresses_changed, result.addresses_changed
        assert not result.duplicates, result.duplicates
        assert result.session_down == (), result.session_down
        # Only the new service's route may be missing for a moment (until announced);
        # nothing else differs from what the API calls for at any sample.
        after = {f"{ip}/32" for e in timeline.events
                 if e.resource == "services" and e.obj["metadata"]["name"] == "after"
                 for ip in [i.get("ip") for i in (((e.obj.get("status") or {})
                                                    .get("loadBalancer") or {})
                                                   .get("ingress") or [])] if ip}
        others = [e for e in result.episodes
                  if not (e.kind == "missing" and e.prefix in after)]
        assert not others, describe(others)
        assert not result.violations, describe(result.violations)
        logs = stack.all_logs()
        assert not [n for n, text in logs.items() if "Traceback" in text]
