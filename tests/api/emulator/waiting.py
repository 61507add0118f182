"""Watch helpers for the emulator tests (waiting itself is metallb.wait.poll_until)."""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from kubernetes import watch

from metallb.wait import poll_until

T = TypeVar("T")


def watch_events(func, count: int, timeout: int = 5, **kwargs) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of the first `count` events (or until timeout)."""
    out = []
    w = watch.Watch()
    for event in w.stream(func, timeout_seconds=timeout, **kwargs):
        obj = event["raw_object"]
        out.append((event["type"], obj["metadata"].get("name", ""),
                    obj["metadata"]["resourceVersion"]))
        if len(out) >= count:
            w.stop()
    return out


class Background:
    """A watch running in a thread, so the test can write while it is open."""

    def __init__(self, server: Any, func: Any, count: int, **kwargs: Any):
        self.events: list = []
        self.error: BaseException | None = None
        before = server.store.open_watch_count()
        self.thread = threading.Thread(target=self._run, args=(func, count, kwargs), daemon=True)
        self.thread.start()
        poll_until(lambda: server.store.open_watch_count() > before, what="watch open")

    def _run(self, func, count, kwargs):
        try:
            self.events = watch_events(func, count, **kwargs)
        except BaseException as exc:  # reported by result()
            self.error = exc

    def result(self, timeout: float = 10) -> list:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "watch did not finish"
        if self.error:
            raise self.error
        return self.events
