"""The one log-line format: values are quoted so every line splits into the fields meant."""

from __future__ import annotations

import logging
import shlex

import pytest

from metallb.logs import StepTimes, format_event, log_event, one_line, parse_event, quote


@pytest.mark.parametrize(("value", "text"), [
    ("default/web", "default/web"),
    ("two words", '"two words"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("a=b", '"a=b"'),
    ("", '""'),
    (None, "-"),
    (True, "true"),
    (0.25, "0.250"),
    (3, "3"),
    ("line\nbreak", '"line break"'),
])
def test_values_are_bare_only_when_unambiguous(value, text):
    assert quote(value) == text


def test_a_line_splits_back_into_the_fields_given():
    line = format_event("sync_failed", {"service": "ns/a b", "error": 'got "x=1"', "n": 2})
    assert dict(part.split("=", 1) for part in shlex.split(line)) == {
        "event": "sync_failed", "service": "ns/a b", "error": 'got "x=1"', "n": "2"}


def test_parse_event_reads_back_what_format_event_wrote():
    fields = {"url": "https://127.0.0.1:1", "kubeconfig": "/tmp/a b/kubeconfig", "ca": 'x"y'}
    line = "ts=2026-01-01T00:00:00.000 level=info " + format_event("listening", fields)
    assert parse_event(line) == {"ts": "2026-01-01T00:00:00.000", "level": "info",
                                 "event": "listening", **fields}
    assert parse_event('unbalanced "quote') == {}


def test_long_values_are_cut():
    assert len(one_line("x" * 1000)) == 300


def test_disabled_level_builds_nothing(caplog):
    class Exploding:
        def __str__(self) -> str:
            raise AssertionError("formatted although debug is off")

    logger = logging.getLogger("test.logs")
    with caplog.at_level(logging.INFO, logger="test.logs"):
        log_event(logger, "debug", "noisy", value=Exploding())
        log_event(logger, "warn", "visible", service="default/web")
    assert [r.getMessage() for r in caplog.records] == ["event=visible service=default/web"]


def test_step_times_give_each_step_its_seconds_and_the_total():
    now = [10.0]
    steps = StepTimes(clock=lambda: now[0])
    now[0] = 10.5
    steps.mark("sync")
    now[0] = 13.25
    steps.mark("withdraw")
    steps.mark("events")  # nothing happened in between
    assert steps.fields() == {"sync_s": 0.5, "withdraw_s": 2.75, "events_s": 0.0,
                              "total_s": 3.25}
    assert format_event("speaker_stopped", steps.fields()) == (
        "event=speaker_stopped sync_s=0.500 withdraw_s=2.750 events_s=0.000 total_s=3.250")
