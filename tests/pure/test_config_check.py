"""`metallb config check` as users run it: a real subprocess, exit codes 0/1/2, never a
traceback, passwords never printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "config.yaml"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "metallb", "config", "check", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        timeout=60,
    )
    out, err = result.stdout.decode(), result.stderr.decode()
    assert "Traceback" not in out + err, out + err
    return subprocess.CompletedProcess(result.args, result.returncode, out, err)


def test_valid_example_exits_0_with_summary():
    result = run(str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"{EXAMPLE}: config is valid"
    assert "  pool pool1: bgp, 1 address: 198.51.100.20/32" in lines
    assert "  pool pool2: bgp, 16 addresses: 203.0.113.16/29, 203.0.113.24/29" in lines


def test_empty_file_is_valid(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    result = run(str(path))
    assert result.returncode == 0
    assert "0 pools, 0 peers, 0 autodiscovery rules" in result.stdout


def test_invalid_config_exits_1_with_every_error_on_stderr(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "peers:\n- {peer-address: 10.0.0.1, peer-asn: '65000', my-asn: 65000, password: 12345}\n"
        "address-pools:\n- {name: a, protocol: bgp, addresses: [192.0.2.1]}\n"
        "- {name: a, protocol: bgp, addresses: [192.0.2.0/25]}\n"
    )
    result = run(str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        f"{path}: peers[0].peer-asn: must be an integer, not string (remove the quotes) "
        "(value: '65000')",
        f"{path}: peers[0].password: must be a string, not integer",
        f"{path}: address-pools[0].addresses[0]: is neither a CIDR nor a range; for a single "
        "address write \"192.0.2.1/32\" (value: '192.0.2.1')",
        f"{path}: address-pools[1].name: duplicate pool name, also used by address-pools[0] "
        "(value: 'a')",
        f"{path}: 4 error(s); config is invalid",
    ]
    # the password (12345) is in no message; the path (pytest-NNNNN/...) may hold digits
    assert not any("12345" in line.removeprefix(f"{path}: ") for line in lines)


def test_valid_config_never_prints_the_password(tmp_path):
    path = tmp_path / "pw.yaml"
    path.write_text(
        "peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, password: hunter2}\n"
    )
    result = run(str(path))
    assert result.returncode == 0
    assert "hunter2" not in result.stdout + result.stderr
    assert "password set" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"peers: [\n", "invalid YAML at line 2"),
        (b"a: 1\na: 2\n", "duplicate key 'a'"),
        (b"\xff\xfe\x00binary", "is not UTF-8 text"),
        (
            b"apiVersion: v1\nkind: ConfigMap\ndata:\n  config: |\n    peers: [\n",
            "data.config: invalid YAML at line 2",
        ),
    ],
)
def test_unreadable_yaml_exits_2(tmp_path, content, expected):
    path = tmp_path / "broken.yaml"
    path.write_bytes(content)
    result = run(str(path))
    assert result.returncode == 2
    assert expected in result.stderr
    assert result.stderr.startswith(f"{path}: ")


def test_missing_file_and_directory_exit_2(tmp_path):
    missing = run(str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert (
        missing.stderr.strip()
        == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"
    )
    # A directory is read as its YAML files (issue 14); one without any cannot be used.
    directory = run(str(tmp_path))
    assert directory.returncode == 2
    assert "holds no .yaml, .yml or .json file" in directory.stderr


def test_reads_stdin():
    result = run("-", stdin=b"address-pools:\n- {name: x, protocol: bgp, addresses: [192.0.2.7]}\n")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "<stdin>: address-pools[0].addresses[0]: is neither a CIDR nor a range; "
        "for a single address write \"192.0.2.7/32\" (value: '192.0.2.7')"
    )


def test_configmap_and_bare_give_same_summary(tmp_path):
    bare = tmp_path / "bare.yaml"
    text = EXAMPLE.read_text()
    body = text.split("config: |\n", 1)[1]
    bare.write_text("".join(line[4:] + "\n" for line in body.splitlines()))
    assert run(str(bare)).stdout.splitlines()[1:] == run(str(EXAMPLE)).stdout.splitlines()[1:]


# rule C23
def test_warnings_go_to_stderr_after_the_summary_and_exit_0(tmp_path):
    path = tmp_path / "hostbits.yaml"
    path.write_text("address-pools:\n- {name: a, protocol: bgp, addresses: [192.0.2.1/24]}\n")
    result = run(str(path))
    assert result.returncode == 0
    assert "  pool a: bgp, 256 addresses: 192.0.2.0/24" in result.stdout.splitlines()
    assert result.stderr.splitlines() == [
        f"{path}: warning: address-pools[0].addresses[0]: has host bits set; read as "
        "192.0.2.0/24, the whole network (value: '192.0.2.1/24')"
    ]
    merged = subprocess.run(
        [sys.executable, "-m", "metallb", "config", "check", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO, timeout=60, check=False,
    ).stdout.decode().splitlines()
    assert merged[0] == f"{path}: config is valid"
    assert merged[-1].startswith(f"{path}: warning: ")


def test_summary_says_where_we_differ_from_upstream():
    result = run(str(EXAMPLE))
    assert (
        "  differs from MetalLB: pools are tried in the order listed (pool1, pool2); "
        "upstream MetalLB's order is random"
    ) in result.stdout.splitlines()
