"""`python -m speaker.bfd`: the BFD process. Commands on stdin, events on stdout (JSON
lines, see engine.py); logs on stderr."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys

from metallb.logs import LOG_LEVELS, log_event
from speaker.bfd.engine import ControlLoop

log = logging.getLogger("speaker.bfd")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speaker.bfd", description=__doc__)
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    parser.add_argument("--realtime-priority", type=int, default=0, metavar="N",
                        help="run under SCHED_FIFO priority N (1-99) so CPU load cannot "
                             "delay packets; 0 (default) keeps the normal scheduler")
    args = parser.parse_args(argv)
    level = "warning" if args.log_level == "warn" else args.log_level
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    if args.realtime_priority:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.realtime_priority))
        except OSError as exc:
            log_event(log, "warn", "bfd_realtime_refused", error=exc)
    # Everything the loop needs is imported: freeze it so a collection never walks it.
    gc.collect()
    gc.freeze()

    def write_line(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    return ControlLoop(sys.stdin.fileno(), write_line).run()


if __name__ == "__main__":
    sys.exit(main())
