"""The redaction every line of ExaBGP's output goes through before it reaches the disk
(rule N14): known passwords anywhere, and any value written after `md5-password`."""

from __future__ import annotations

import pytest

from speaker.exabgp.logfile import redactor

SECRET = "Md5-Pw-7f3kQz"


# rule N14
@pytest.mark.parametrize(("line", "expected"), [
    (f"configuration | . md5-password     | '{SECRET}'",
     "configuration | . md5-password     | '<redacted>'"),  # ExaBGP's debug config dump
    ('md5-password "forgotten";', 'md5-password "<redacted>";'),  # a secret no longer set
    ("{'md5_password': 'zz', 'x': 1}", "{'md5_password': '<redacted>', 'x': 1}"),
    (f"peer said {SECRET} twice: {SECRET}", "peer said <redacted> twice: <redacted>"),
    ("md5-password     | <redacted>", "md5-password     | <redacted>"),  # not twice
    ("hold-time 3", "hold-time 3"),
])
def test_redaction(line, expected):
    assert redactor(lambda: [SECRET, ""])(line) == expected
