"""A stop that arrives while the speaker is in a sync pass: the rest of that pass would
be undone by the withdraw that follows, so the speaker leaves it (at 100k services,
seconds of its stop). The moments are pinned by letting the pass itself raise the stop
flag where SIGTERM would land; the BGP side is the test_status backend, which records
what it was handed."""

from __future__ import annotations

from collections.abc import Mapping

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


def cut_short_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "event=sync_cut_short" in r.getMessage()]


def stopped_pass(daemon: SpeakerDaemon) -> None:
    """Wait until the sync thread, its stop flag raised by the pass, has ended."""
    poll_until(lambda: daemon._thread is not None and not daemon._thread.is_alive(), 30,
               what="the sync thread ends after the stop flag")


# rule D3: a pass the stop overtakes is cut short
def test_a_stop_while_planning_hands_that_plan_to_nobody(
        cluster, backend, start_speaker, monkeypatch, caplog):  # noqa: F811
    core, _custom = cluster
    caplog.set_level("INFO", logger="metallb.speaker")
    announced_service(core, "a", "198.51.100.7")
    opened = SpeakerDaemon._open_sessions

    def open_then_stop(self: SpeakerDaemon, *args) -> None:
        opened(self, *args)
        self._stop.set()  # SIGTERM lands while the full plan is computed

    monkeypatch.setattr(SpeakerDaemon, "_open_sessions", open_then_stop)
    daemon = start_speaker()
    stopped_pass(daemon)
    daemon.stop()
    assert daemon.plans == 1, "the pass planned before it stopped"
    assert PREFIX not in backend.ever, "a plan made while stopping reached the backend"
    assert any("before=routes" in line for line in cut_short_lines(caplog))


def test_a_stop_right_after_the_announcement_skips_metrics_and_status(
        cluster, backend, daemons, start_speaker, monkeypatch, caplog):  # noqa: F811
    """Where bench/memory.py sends SIGTERM: just after the speaker logs what it announces."""
    core, _custom = cluster
    caplog.set_level("INFO", logger="metallb.speaker")
    announced_service(core, "a", "198.51.100.7")
    logged = speaker.daemon._log_services

    def log_then_stop(event: str, keys: list[str], node: str, limit: int) -> None:
        logged(event, keys, node, limit)
        if event == "service_announced" and keys:
            daemons[0]._stop.set()

    monkeypatch.setattr(speaker.daemon, "_log_services", log_then_stop)
    daemon = start_speaker()
    stopped_pass(daemon)
    assert PREFIX in backend.ever, "the routes went out before the stop"
    metrics = generate_latest(daemon.registry).decode()
    daemon.stop()
    assert 'service="default/a"' not in metrics, "metrics moved for what is withdrawn next"
    assert any("before=status" in line for line in cut_short_lines(caplog))


def test_a_stop_while_status_is_written_leaves_the_index(
        cluster, backend, daemons, start_speaker, monkeypatch, caplog):  # noqa: F811
    core, _custom = cluster
    caplog.set_level("INFO", logger="metallb.speaker")
    announced_service(core, "a", "198.51.100.7")
    synced = speaker.daemon.SpeakerStatus.synced

    def synced_then_stop(self, *args) -> None:
        synced(self, *args)
        daemons[0]._stop.set()

    monkeypatch.setattr(speaker.daemon.SpeakerStatus, "synced", synced_then_stop)
    daemon = start_speaker()
    stopped_pass(daemon)
    daemon.stop()
    assert PREFIX in backend.ever
    assert any("before=index" in line for line in cut_short_lines(caplog))
