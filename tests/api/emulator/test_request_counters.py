"""The emulator counts what each client costs it: requests and bytes per (user, verb,
resource) and the watches open, in Python and over GET /_emulator/requests."""

from __future__ import annotations

from kubernetes import client, watch

from lab.apiserver import ApiServer, Identity
from lab.apiserver.remote import control_call
from metallb.wait import poll_until
from tests.support.apiserver import api_client_for


def _row(rows: list[dict], user: str, verb: str, resource: str) -> dict:
    return next(r for r in rows if (r["user"], r["verb"], r["resource"]) == (user, verb,
                                                                           resource))


def test_requests_bytes_and_open_watches_are_counted_per_user_verb_and_resource():
    with ApiServer(token="admin-token") as server:
        token = server.service_account_token("default", "reader")
        user = Identity.service_account("default", "reader").user
        with api_client_for(server, token) as api:
            core = client.CoreV1Api(api)
            core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
            core.list_namespaced_config_map("default")
            core.list_namespaced_config_map("default")
            stream = watch.Watch()
            events = stream.stream(core.list_namespaced_config_map, "default",
                                   timeout_seconds=3)
            next(events)  # the ADDED of "a": the watch streams
            poll_until(lambda: _row(server.counters.snapshot(), user, "watch",
                                    "configmaps")["open_watches"] == 1, 10,
                       what="the open watch counted")
            rows = control_call(server.url, "requests", token="admin-token")
            for _ in events:  # until the server ends the watch (timeoutSeconds)
                pass
        assert rows["openWatches"] == 1
        listed = _row(rows["requests"], user, "list", "configmaps")
        assert listed["requests"] == 2 and listed["bytes"] > 0
        assert _row(rows["requests"], user, "create", "configmaps")["requests"] == 1
        watched = _row(rows["requests"], user, "watch", "configmaps")
        assert watched["requests"] == 1 and watched["bytes"] > 0
        poll_until(lambda: _row(server.counters.snapshot(), user, "watch",
                                "configmaps")["open_watches"] == 0, 10,
                   what="the ended watch no longer counted")
