"""How every bench reports: Markdown tables for the README, and with `--json` one JSON object
as the last line of its output, so runs can be compared between runs and machines.

A bench builds one `Report`, adds its tables (each row a dict, keyed by the header) and any
raw figures, and calls `finish()`. The JSON object holds the same tables, the raw figures,
the command line and the machine's load when the bench started and ended (figures from a
shared machine mean little without it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="also print one JSON object with every figure as the last line")


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages (what `uptime` shows)."""
    return [round(x, 2) for x in os.getloadavg()]


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
    """min / median / max of the finite values, and how many there were."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"min": None, "median": None, "max": None, "n": 0}
    return {"min": min(finite), "median": statistics.median(finite), "max": max(finite),
            "n": len(finite)}


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Round by round a/b (rounds where either side is missing or zero are left out): the
    ratio of two contenders measured under the same machine conditions."""
    return [a / b for a, b in zip(numerators, denominators, strict=False)
            if a is not None and b and math.isfinite(a) and math.isfinite(b)]


def fmt_spread(values: Sequence[float], unit: str = "s", digits: int = 2) -> str:
    """'min / median / max unit' of a list ('-' when nothing was measured)."""
    s = spread(values)
    if not s["n"]:
        return "-"
    return f"{s['min']:.{digits}f} / {s['median']:.{digits}f} / {s['max']:.{digits}f}{unit}"


def _plain(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, tuples lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Report:
    """Collects one bench's tables and figures; prints tables as they come (so a long run
    shows progress) and, with `--json`, the JSON object last. Used from one thread."""

    def __init__(self, bench: str, args: argparse.Namespace | None = None):
        self.json = bool(getattr(args, "json", False))
        self._began = time.monotonic()
        self.data: dict[str, Any] = {
            "bench": bench,
            "argv": sys.argv[1:],
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_at_start": load()},
            "tables": {},
        }

    def note(self, text: str) -> None:
        print(text, flush=True)
        self.data.setdefault("notes", []).append(text)

    def table(self, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]],
              title: str | None = None, raw: Sequence[dict[str, Any]] | None = None) -> None:
        """Print a Markdown table; keep it under `name` in the JSON (rows as dicts keyed by
        the header, or `raw` when the caller has better-typed rows)."""
        print()
        if title:
            print(title)
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            print("| " + " | ".join(str(cell) for cell in row) + " |")
        print(flush=True)
        self.data["tables"][name] = (list(raw) if raw is not None else
                                     [dict(zip(header, row, strict=True)) for row in rows])

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def finish(self) -> None:
        self.data["machine"]["load_at_end"] = load()
        self.data["seconds"] = round(time.monotonic() - self._began, 1)
        if self.json:
            print(json.dumps(_plain(self.data), sort_keys=True), flush=True)
