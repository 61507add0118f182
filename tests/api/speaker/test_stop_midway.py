"""A stop that arrives while the speaker is in a sync pass: the rest of that pass would
be undone by the withdraw that follows, so the speaker leaves it (at 100k services,
seconds of its stop). The moments are pinned by letting the pass itself raise the stop
flag where SIGTERM would land; the BGP side is the test_status backend, which records
what it was handed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from prometheus_client import generate_latest

import speaker.daemon
from metallb.wait import poll_until
from speaker.daemon import SpeakerDaemon
from tests.api.speaker.test_status import (  # noqa: F401
    UpBackend,
    announced_service,
    cluster,
    start_speaker,
)
from tests.support.apiserver import apiserver, kube_client  # noqa: F401

PREFIX = "198.51.100.7/32"


class RecordingBackend(UpBackend):
    """UpBackend that remembers every prefix it was ever handed."""

    def __init__(self) -> None:
        super().__init__()
        self.ever: set[str] = set()

    def set_routes(self, routes: Mapping[str, Mapping], canonical: bool = False) -> None:
        super().set_routes(routes, canonical)
        self.ever.update(prefix for table in routes.values() for prefix in table)

    def change_routes(self, changes: Mapping[str, Mapping]) -> None:
        super().change_routes(changes)
        self.ever.update(prefix for table in changes.values() for prefix, attrs in
                         table.items() if attrs is not None)


@pytest.fixture
def backend(cluster, monkeypatch) -> RecordingBackend:  # noqa: F811
    recording = RecordingBackend()
    monkeypatch.setattr(speaker.daemon, "make_backend", lambda *a, **k: recording)
    return recording


@pytest.fixture
def daemons(monkeypatch) -> list[SpeakerDaemon]:
    """Every speaker started, noted before its sync thread runs (so the pass can raise
    its own stop flag)."""
    noted: list[SpeakerDaemon] = []
    start = SpeakerDaemon.start

    def note_then_start(self: SpeakerDaemon) -> SpeakerDaemon:
        noted.append(self)
        return start(self)

    monkeypatch.setattr(SpeakerDaemon, "start", note_then_start)
    return noted


def stop_after(monkeypatch, daemons: list[SpeakerDaemon], owner: object, name: str,
               when: Callable[..., bool] = lambda *args: True) -> None:
    """SIGTERM lands just after `owner.name` returns (when `when` says so for its
    arguments): the first speaker's stop flag is raised there."""
    original = getattr(owner, name)

    def then_stop(*args: Any) -> Any:
        result = original(*args)
        if when(*args):
            daemons[0]._stop.set()
        return result

    monkeypatch.setattr(owner, name, then_stop)


def run_until_cut_short(core, start: Callable[[], SpeakerDaemon], caplog
                        ) -> tuple[SpeakerDaemon, list[str], str]:
    """Service "a" announced; a speaker started, its first pass stopped by the flag, the
    speaker stopped. Returns it, its `sync_cut_short` log lines and its metrics as they
    were when the pass had ended."""
    caplog.set_level("INFO", logger="metallb.speaker")
    announced_service(core, "a", "198.51.100.7")
    daemon = start()
    poll_until(lambda: daemon._thread is not None and not daemon._thread.is_alive(), 30,
               what="the sync thread ends after the stop flag")
    metrics = generate_latest(daemon.registry).decode()
    daemon.stop()
    lines = [r.getMessage() for r in caplog.records if "event=sync_cut_short" in r.getMessage()]
    return daemon, lines, metrics


# rule D3: a pass the stop overtakes is cut short
def test_a_stop_while_planning_hands_that_plan_to_nobody(
        cluster, backend, daemons, start_speaker, monkeypatch, caplog):  # noqa: F811
    stop_after(monkeypatch, daemons, SpeakerDaemon, "_open_sessions")  # the full plan next
    daemon, lines, _metrics = run_until_cut_short(cluster[0], start_speaker, caplog)
    assert daemon.plans == 1, "the pass planned before it stopped"
    assert PREFIX not in backend.ever, "a plan made while stopping reached the backend"
    assert any("before=routes" in line for line in lines)


def test_a_stop_right_after_the_announcement_skips_metrics_and_status(
        cluster, backend, daemons, start_speaker, monkeypatch, caplog):  # noqa: F811
    """Where bench/memory.py sends SIGTERM: just after the speaker logs what it announces."""
    stop_after(monkeypatch, daemons, speaker.daemon, "_log_services",
               when=lambda event, keys, *_: event == "service_announced" and bool(keys))
    _daemon, lines, metrics = run_until_cut_short(cluster[0], start_speaker, caplog)
    assert PREFIX in backend.ever, "the routes went out before the stop"
    assert 'service="default/a"' not in metrics, "metrics moved for what is withdrawn next"
    assert any("before=status" in line for line in lines)


def test_a_stop_while_status_is_written_leaves_the_index(
        cluster, backend, daemons, start_speaker, monkeypatch, caplog):  # noqa: F811
    stop_after(monkeypatch, daemons, speaker.daemon.SpeakerStatus, "synced")
    _daemon, lines, _metrics = run_until_cut_short(cluster[0], start_speaker, caplog)
    assert PREFIX in backend.ever
    assert any("before=index" in line for line in lines)
