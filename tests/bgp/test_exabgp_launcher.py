"""The launcher installs its fixes only into exactly the ExaBGP they were verified against
(version and the fingerprint of everything they replace or rely on); anything else runs
as released, with one warning line on stderr, and never stops ExaBGP from starting.
The fixes' own contracts: test_exabgp_launcher_fixes.py and _reactor.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from exabgp.bgp.neighbor import Neighbor
from exabgp.configuration.usage import usage
from exabgp.reactor.api import API
from exabgp.reactor.api.command.command import Command
from exabgp.reactor.asynchronous import ASYNC
from exabgp.reactor.loop import Reactor
from exabgp.rib.outgoing import OutgoingRIB
from exabgp.vendoring import docopt

from speaker.exabgp.config import DEFAULT_BATCH, exabgp_env
from speaker.exabgp.launcher import guard
from speaker.exabgp.launcher.batched_attributes import batched_attributes
from speaker.exabgp.launcher.driver_options import docopt_for_the_driver, driver_options
from speaker.exabgp.launcher.fixes import FIXES
from speaker.exabgp.launcher.grouped_updates import grouped_updates
from speaker.exabgp.launcher.install import apply_fixes
from speaker.exabgp.launcher.lean_remove_self import lean_remove_self
from speaker.exabgp.launcher.routes_per_turn import ASYNC_ROUTES_PER_TURN
from speaker.exabgp.supervisor import default_exabgp_cmd
from tests.bgp.exabgp_internals import (
    ORIGINAL_DOCOPT,
    ORIGINAL_HANDLERS,
    ORIGINAL_WAIT_FOR_IO,
    PATCHED_HANDLERS,
    STOCK,
    patched_exabgp,
    stock_exabgp,
    stock_state,
)

__all__ = ["patched_exabgp", "stock_exabgp"]  # fixtures


def one_warning(err: str) -> str:
    assert err.count("\n") == 1, f"want exactly one line on stderr, got {err!r}"
    assert err.startswith("metallb: ExaBGP runs unpatched"), err
    return err


# -- the verified release ----------------------------------------------------------------

def test_recorded_fingerprints_are_those_of_the_installed_exabgp() -> None:
    from exabgp.version import version

    assert version == guard.VERIFIED_VERSION
    assert guard.unverified(FIXES) == []


def test_verified_release_gets_every_fix(patched_exabgp: None,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert Neighbor.remove_self is lean_remove_self
    assert OutgoingRIB.updates is grouped_updates
    assert Reactor._wait_for_io.__wrapped__ is ORIGINAL_WAIT_FOR_IO
    assert ASYNC.LIMIT == ASYNC_ROUTES_PER_TURN == DEFAULT_BATCH
    assert docopt.docopt.__wrapped__ is ORIGINAL_DOCOPT
    for name in PATCHED_HANDLERS:
        handler = Command.callback["text"][name]
        assert handler is not ORIGINAL_HANDLERS[name]
        assert handler.__qualname__.startswith(batched_attributes.__name__ + ".")
    assert capsys.readouterr().err == ""


def test_applying_twice_wraps_the_originals_once(patched_exabgp: None) -> None:
    wait_for_io = Reactor._wait_for_io
    assert apply_fixes() is True
    assert Reactor._wait_for_io is not wait_for_io
    assert Reactor._wait_for_io.__wrapped__ is ORIGINAL_WAIT_FOR_IO


# -- anything else runs unpatched --------------------------------------------------------

@pytest.mark.parametrize("version", ["4.2.24", "4.2.26", "4.2.25.post1", "5.0.15"])
def test_other_version_runs_unpatched_with_one_warning(
        version: str, stock_exabgp: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("exabgp.version.version", version)
    assert apply_fixes() is False
    assert stock_state() == STOCK
    assert f"differs: version {version})" in one_warning(capsys.readouterr().err)


def _changed_remove_self(self, change):  # same signature, other source
    return change


def _changed_api_attributes(self, command, peers):
    return []


CHANGED = {  # what changed in ExaBGP -> the name the warning must give
    "replaced method": (Neighbor, "remove_self", _changed_remove_self,
                        "exabgp.bgp.neighbor.Neighbor.remove_self (source differs)"),
    "relied-on method": (API, "api_attributes", _changed_api_attributes,
                         "exabgp.reactor.api.API.api_attributes (source differs)"),
    "replaced constant": (ASYNC, "LIMIT", 64,
                          "exabgp.reactor.asynchronous.ASYNC.LIMIT (source differs)"),
    "removed method": (Neighbor, "ip_self", None,
                       "exabgp.bgp.neighbor.Neighbor.ip_self (AttributeError"),
}


@pytest.mark.parametrize("case", sorted(CHANGED))
def test_changed_exabgp_runs_unpatched_naming_what_changed(
        case: str, stock_exabgp: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    owner, name, value, expected = CHANGED[case]
    if value is None:
        monkeypatch.delattr(owner, name)
    else:
        monkeypatch.setattr(owner, name, value)
    before = stock_state()
    assert apply_fixes() is False
    assert stock_state() == before
    err = one_warning(capsys.readouterr().err)
    assert expected in err
    assert err.count("exabgp.") == 1, "only what changed is named"


def test_changed_command_handler_runs_unpatched(stock_exabgp: None,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    Command.callback["text"]["withdraw attributes"] = _changed_api_attributes
    assert apply_fixes() is False
    assert Neighbor.remove_self is STOCK[0]
    assert "withdraw_attribute (the 'withdraw attributes' command) (source differs)" in \
        one_warning(capsys.readouterr().err)


class Toy:
    first = "one"
    second = "two"


def toy_fix(name: str, make) -> guard.Fix:
    return guard.Fix(replaces=guard.Verified(f"Toy.{name}", guard.fingerprint(getattr(Toy, name)),
                                             lambda: getattr(Toy, name)),
                     write=lambda value: setattr(Toy, name, value), make=make)


def test_failure_while_installing_undoes_what_was_installed(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(Toy, "first", "one")
    monkeypatch.setattr(Toy, "second", "two")

    def broken(_original: str) -> str:
        raise RuntimeError("cannot build")

    fixes = [toy_fix("first", lambda original: original.upper()), toy_fix("second", broken)]
    assert guard.apply(lambda: fixes, lambda: guard.VERIFIED_VERSION, sys.stderr) is False
    assert (Toy.first, Toy.second) == ("one", "two")
    assert "the launcher failed (RuntimeError: cannot build)" in \
        one_warning(capsys.readouterr().err)
    assert guard.apply(lambda: fixes[:1], lambda: guard.VERIFIED_VERSION, sys.stderr)
    assert Toy.first == "ONE"


def test_failure_while_checking_runs_unpatched(capsys: pytest.CaptureFixture[str]) -> None:
    def no_version() -> str:
        raise ImportError("no exabgp.version\n(a second line)")

    assert guard.apply(lambda: [], no_version, sys.stderr) is False
    assert "ImportError: no exabgp.version (a second line)" in \
        one_warning(capsys.readouterr().err)


# -- fingerprints cached between starts ---------------------------------------------------

def _module_with(tmp_path, name: str, body: str):
    """A module file of its own (so its size and modification time are the test's)."""
    import importlib.util
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module


def test_a_cached_fingerprint_is_the_fingerprint_and_is_read_back_without_hashing(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    _path, module = _module_with(tmp_path, "toy_cached", "def f():\n    return 1\n")
    cache_file = tmp_path / "cache" / "fingerprints.json"
    first = guard.FingerprintCache(cache_file)
    assert first.fingerprint(module.f) == guard.fingerprint(module.f)
    first.save()

    def no_hashing(_obj):
        raise AssertionError("hashed again")

    monkeypatch.setattr(guard, "fingerprint", no_hashing)
    assert guard.FingerprintCache(cache_file).fingerprint(module.f) == first.fingerprint(
        module.f)


def test_a_changed_source_file_is_hashed_again(tmp_path) -> None:
    path, module = _module_with(tmp_path, "toy_changed", "def f():\n    return 1\n")
    cache_file = tmp_path / "fingerprints.json"
    before = guard.FingerprintCache(cache_file)
    old = before.fingerprint(module.f)
    before.save()
    path.write_text("def f():\n    return 22\n")
    os.utime(path, ns=(1, 1))  # another modification time even within the same tick
    _path, changed = _module_with(tmp_path, "toy_changed", path.read_text())
    new = guard.FingerprintCache(cache_file).fingerprint(changed.f)
    assert new == guard.fingerprint(changed.f) != old


@pytest.mark.parametrize("where", ["", "/proc/no-such-dir/fingerprints.json"])
def test_no_usable_cache_file_only_means_hashing(where: str, tmp_path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(guard.CACHE_ENV, where)
    cache = guard.FingerprintCache.default()
    _path, module = _module_with(tmp_path, "toy_nocache", "def f():\n    return 1\n")
    assert cache.fingerprint(module.f) == guard.fingerprint(module.f)
    cache.save()  # nothing raised
    assert guard.unverified(FIXES, cache) == []


# -- fix 6: the driver's command line without docopt -----------------------------------

DRIVER_COMMAND_LINES = [["/var/lib/metallb/exabgp/exabgp.conf"], ["exabgp.conf"],
                        ["one.conf", "two.conf"]]
OTHER_COMMAND_LINES = [[], ["--version"], ["-d", "exabgp.conf"], ["exabgp.conf", "--once"],
                       ["--env=/etc/exabgp.env", "exabgp.conf"], ["-"]]


@pytest.mark.parametrize("argv", DRIVER_COMMAND_LINES)
def test_driver_options_are_docopts_parse(argv: list[str]) -> None:
    assert driver_options(argv) == ORIGINAL_DOCOPT(usage, argv=argv, help=False)


@pytest.mark.parametrize("argv", DRIVER_COMMAND_LINES + OTHER_COMMAND_LINES)
def test_docopt_runs_only_for_other_command_lines(argv: list[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """ExaBGP's call (`docopt.docopt(usage, help=False)`, command line from sys.argv) is
    answered with the driver's options, or handed to docopt for any other line."""
    parsed: list[list[str]] = []

    def docopt_spy(doc, argv=None, help=True, version=None, options_first=False):
        parsed.append(sys.argv[1:] if argv is None else argv)
        return "docopt's result"

    monkeypatch.setattr(sys, "argv", ["exabgp", *argv])
    got = docopt_for_the_driver(docopt_spy)(usage, help=False)
    if argv in DRIVER_COMMAND_LINES:
        assert (got, parsed) == (driver_options(argv), [])
    else:
        assert (got, parsed) == ("docopt's result", [argv])


def test_other_usage_texts_go_to_docopt() -> None:
    parsed = []
    docopt_for_the_driver(lambda *args: parsed.append(args))("usage: other [<file>]",
                                                             ["x.conf"], False)
    assert parsed == [("usage: other [<file>]", ["x.conf"], False, None, False)]


# -- the launcher as the driver runs it --------------------------------------------------

def run_launcher(*args: str, prelude: str = "", cwd=None, env=None):
    """`python -m speaker.exabgp.launcher args` after `prelude` (in the same process)."""
    code = (f"{prelude}\nimport runpy\n"
            "runpy.run_module('speaker.exabgp.launcher', run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd, env=env)


def test_launcher_runs_exabgp() -> None:
    """The driver's command, in the driver's environment, starts the real ExaBGP (its own
    --version answer)."""
    out = subprocess.run([*default_exabgp_cmd(), "--version"], capture_output=True,
                         text=True, timeout=60, env={**os.environ, **exabgp_env("WARNING")})
    assert default_exabgp_cmd()[:3] == [sys.executable, "-S", "-m"]
    assert "ExaBGP : 4.2.25" in out.stdout + out.stderr, out
    assert "unpatched" not in out.stderr


UNVERIFIED_EXABGP = {  # prelude -> what the warning must name
    "import exabgp.version as v; v.version = '4.2.99'": "differs: version 4.2.99)",
    # a function without source (defined in `-c`): not what was verified either
    "from exabgp.bgp.neighbor import Neighbor; Neighbor.remove_self = lambda s, c: c":
        "differs: exabgp.bgp.neighbor.Neighbor.remove_self (OSError: could not get source",
}


@pytest.mark.parametrize("prelude", sorted(UNVERIFIED_EXABGP))
def test_launcher_runs_an_unverified_exabgp_unpatched(prelude: str) -> None:
    out = run_launcher("--version", prelude=prelude)
    assert out.returncode == 0, out.stderr
    assert "ExaBGP : 4.2." in out.stdout
    assert UNVERIFIED_EXABGP[prelude] in one_warning(out.stderr)


def test_launcher_found_from_any_directory(tmp_path) -> None:
    """The driver's child runs in whatever directory the speaker was started from; the
    environment the driver gives it must make the launcher importable there by itself
    (`-S`: no site-packages, so no editable-install finder helps)."""
    env = {"PATH": os.environ.get("PATH", ""), **exabgp_env("WARNING")}
    out = subprocess.run([sys.executable, "-S", "-c", "import speaker.exabgp.launcher"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
