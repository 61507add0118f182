"""The version guard: the fixes go only into the ExaBGP they were verified against.

A fix replaces one thing in ExaBGP (a method, a command handler, a class constant) and
relies on a few others. For each of them it records the sha256 of its source as it was
in ExaBGP `VERIFIED_VERSION` when the fix and its contract test were written. `apply`
installs every fix or none: if the version differs, or any recorded fingerprint does not
match the ExaBGP now imported, or anything goes wrong while checking or installing,
ExaBGP runs exactly as released and one line on stderr says what did not match. A
changed ExaBGP thus costs speed, never correctness, and never a crash at start.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

VERIFIED_VERSION = "4.2.25"

CACHE_ENV = "METALLB_EXABGP_FINGERPRINTS"
"""File of fingerprints already computed (default: metallb/exabgp-fingerprints.json in
$XDG_CACHE_HOME or ~/.cache); empty: no cache."""


def fingerprint(obj: Any) -> str:
    """sha256 of a function's or class's source text; of `repr` for a plain value."""
    if inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj):
        text = inspect.getsource(obj)
    else:
        text = repr(obj)
    return hashlib.sha256(text.encode()).hexdigest()


def _source_key(obj: Any) -> str | None:
    """Where `obj`'s source text lies, as of now: its file with that file's size and
    modification time, and its name and first line there. None for a plain value (its
    repr is cheap) or an object without a source file."""
    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
        return None
    try:
        path = inspect.getsourcefile(obj)
        if path is None:
            return None
        stat = os.stat(path)
        code = getattr(inspect.unwrap(obj) if not inspect.isclass(obj) else obj,
                       "__code__", None)
        line = code.co_firstlineno if code is not None else 0
    except (OSError, TypeError, ValueError):
        return None
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}:{obj.__qualname__}:{line}"


class FingerprintCache:
    """Fingerprints of sources already hashed, by `_source_key`: a start after the first
    reads them from one small JSON file instead of finding and tokenising each source in
    ExaBGP's modules again (20-60 ms per start). A changed file has another size or
    modification time, so another key: the cache never vouches for a source it did not
    hash. Any problem with the file (missing, unreadable, read-only directory) only
    means fingerprints are computed. Used by one thread (the launcher's start)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._known: dict[str, str] = {}
        self._dirty = False
        if path is not None:
            try:
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    self._known = {k: v for k, v in loaded.items()
                                   if isinstance(k, str) and isinstance(v, str)}
            except (OSError, ValueError):
                pass

    @classmethod
    def default(cls) -> FingerprintCache:
        where = os.environ.get(CACHE_ENV)
        if where is None:
            root = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
            where = os.path.join(root, "metallb", "exabgp-fingerprints.json")
        return cls(Path(where) if where else None)

    def fingerprint(self, obj: Any) -> str:
        key = _source_key(obj)
        if key is None:
            return fingerprint(obj)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = fingerprint(obj)
            self._dirty = True
        return known

    def save(self) -> None:
        """Write the file if anything was added (atomically: a concurrent start reads
        the old file or the new one, never half of one)."""
        if not self._dirty or self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False,
                                             suffix=".tmp") as out:
                json.dump(self._known, out, sort_keys=True)
            os.replace(out.name, self.path)
            self._dirty = False
        except OSError:
            pass


@dataclass(frozen=True)
class Verified:
    """One thing in ExaBGP as it was verified: its dotted name (for the warning), the
    sha256 of its source, and how to find it now."""

    name: str
    sha256: str
    find: Callable[[], Any]

    @classmethod
    def attribute(cls, owner: Any, attribute: str, sha256: str) -> Verified:
        """`owner.attribute` (owner a module or a class), looked up when checked."""
        where = owner.__name__ if inspect.ismodule(owner) else \
            f"{owner.__module__}.{owner.__qualname__}"
        return cls(f"{where}.{attribute}", sha256, lambda: getattr(owner, attribute))


@dataclass(frozen=True)
class Fix:
    """One fix: what it replaces as verified (`replaces.find()` gives what stands there
    now), what it relies on, `make(original) -> replacement`, and `write`, which puts a
    replacement (or, undoing, the original) in place."""

    replaces: Verified
    write: Callable[[Any], None]
    make: Callable[[Any], Any]
    relies_on: tuple[Verified, ...] = field(default=())


def attribute_fix(owner: Any, attribute: str, sha256: str, make: Callable[[Any], Any],
                  relies_on: tuple[Verified, ...] = ()) -> Fix:
    """A fix that replaces `owner.attribute` (a method, function or constant)."""
    return Fix(replaces=Verified.attribute(owner, attribute, sha256),
               write=lambda replacement: setattr(owner, attribute, replacement),
               make=make, relies_on=relies_on)


# replacement we installed -> the original it replaced, by fix name: a second `apply`
# (or a test) then checks and wraps the original again, never our own replacement
_installed: dict[str, tuple[Any, Any]] = {}


def original(fix: Fix) -> Any:
    """What `fix` replaces, as ExaBGP defined it (our own replacement looked through)."""
    current = fix.replaces.find()
    known = _installed.get(fix.replaces.name)
    return known[1] if known is not None and known[0] is current else current


def _differs(verified: Verified, find: Callable[[], Any],
             hasher: Callable[[Any], str]) -> str | None:
    """Why what `find()` gives is not what was verified, or None if it is."""
    try:
        if hasher(find()) == verified.sha256:
            return None
    except Exception as exc:  # gone, renamed, no source: not what was verified
        return f"{verified.name} ({type(exc).__name__}: {exc})"
    return f"{verified.name} (source differs)"


def unverified(fixes: Sequence[Fix], cache: FingerprintCache | None = None) -> list[str]:
    """What in ExaBGP differs from what `fixes` were verified against ([] = nothing);
    fingerprints come from `cache` when it has them."""
    hasher = cache.fingerprint if cache is not None else fingerprint
    checks = {fix.replaces.name: (fix.replaces, functools.partial(original, fix))
              for fix in fixes}
    for verified in (v for fix in fixes for v in fix.relies_on):  # fixes share some
        checks.setdefault(verified.name, (verified, verified.find))
    return [problem for verified, find in checks.values()
            if (problem := _differs(verified, find, hasher)) is not None]


def apply(fixes: Callable[[], Sequence[Fix]], version: Callable[[], str],
          stderr: TextIO, cache: FingerprintCache | None = None) -> bool:
    """Install all `fixes()` if ExaBGP is exactly what they were verified against; else
    leave ExaBGP as released and write one warning line naming what did not match."""
    installed: list[tuple[Fix, Any]] = []
    try:
        found = version()
        if found != VERIFIED_VERSION:
            problems = [f"version {found}"]
        else:
            todo = fixes()
            problems = unverified(todo, cache)
            if cache is not None:
                cache.save()
        if not problems:
            for fix in todo:
                before, source = fix.replaces.find(), original(fix)
                replacement = fix.make(source)
                fix.write(replacement)
                installed.append((fix, before))
                _installed[fix.replaces.name] = (replacement, source)
            return True
    except Exception as exc:  # the guard itself must never stop ExaBGP from starting
        for fix, before in reversed(installed):
            fix.write(before)
        problems = [f"the launcher failed ({type(exc).__name__}: {exc})"]
    warning = (f"metallb: ExaBGP runs unpatched (the launcher's fixes were verified "
               f"against ExaBGP {VERIFIED_VERSION}; differs: {'; '.join(problems)})")
    print(" ".join(warning.split()), file=stderr)  # one line, whatever the exceptions say
    return False
