"""Speaker settings: each default is written once (SpeakerSettings) and the flags agree."""

from __future__ import annotations

import dataclasses

from speaker.cli import parse_settings
from speaker.exabgp.driver import ExaBGPDriver
from speaker.settings import SpeakerSettings


def test_the_state_dir_defaults_to_one_directory_per_node_as_the_readme_says():
    assert SpeakerSettings(node_name="n1").state_dir == "/var/run/metallb-speaker/n1"
    assert parse_settings(["--node-name", "n1"]).state_dir == "/var/run/metallb-speaker/n1"


def test_parsed_flags_without_values_equal_the_dataclass_defaults(monkeypatch):
    for name in ("METALLB_NAMESPACE", "METALLB_HOST"):
        monkeypatch.delenv(name, raising=False)
    assert parse_settings(["--node-name", "n1"]) == SpeakerSettings(node_name="n1")


def test_an_explicit_state_dir_is_kept():
    assert SpeakerSettings(node_name="n1", state_dir="/tmp/x").state_dir == "/tmp/x"


def test_the_drivers_tunable_defaults_are_the_settings_defaults(tmp_path):
    driver = ExaBGPDriver(tmp_path, [])
    defaults = {f.name: f.default for f in dataclasses.fields(SpeakerSettings)}
    assert (driver.batch, driver.restart_backoff, driver.establish_warn_after,
            driver.start_timeout, driver.withdraw_timeout, driver.ack_timeout) == (
        defaults["exabgp_batch"], defaults["exabgp_restart_backoff"],
        defaults["establish_warn_after"], defaults["exabgp_start_timeout"],
        defaults["withdraw_timeout"], defaults["exabgp_ack_timeout"])
