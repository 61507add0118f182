"""ExaBGP's log as the driver keeps it, with real ExaBGP and FRR: bounded while ExaBGP
runs (the state dir is a 32 Mi memory emptyDir) and created private."""

from __future__ import annotations

import pytest

from lab.harness.bgplab import bgp_lab
from metallb.wait import poll_until
from speaker.bgp import RouteAttrs
from speaker.exabgp.logfile import BoundedLog, redactor

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

BOUND = 32 * 1024


def host_routes(start: int, count: int) -> dict[str, RouteAttrs]:
    return {f"2001:db8:1::{i:x}/128": RouteAttrs() for i in range(start, start + count)}


# rule N14: the log stays under its bound while ExaBGP logs a lot (debug: every UPDATE)
def test_exabgp_log_stays_bounded_while_exabgp_runs():
    with bgp_lab(1) as lab:
        node = lab.nodes[0]
        router = lab.topology.router_ipv6
        drv = lab.driver(node, log_level="DEBUG", log_rotate_bytes=BOUND, batch=50)
        drv.start()
        pid = drv.pid
        drv.set_peers([lab.peer_v6(node)])
        poll_until(lambda: drv.sessions()[router].up, 15, what="IPv6 session up")
        sizes = []
        for round_ in range(4):
            routes = host_routes(round_ * 500, 500)
            drv.set_routes({router: routes})
            poll_until(lambda r=routes: lab.router.prefixes_received("ipv6") == len(r)
                       and not drv.busy(), 30, what="FRR holds this round's routes")
            sizes.append(drv.log_path.stat().st_size)
        rotated = drv.log_path.with_name("exabgp.log.1")
        assert drv.pid == pid and drv.restarts == 0  # bounded while running, not at restart
        assert rotated.exists() and rotated.stat().st_size <= BOUND
        assert max(sizes) <= BOUND, sizes
        # ExaBGP's own debug lines (which ones end up in the last two files depends on
        # timing: the API commands it logs, or the UPDATEs)
        text = drv.log_path.read_text() + rotated.read_text()
        assert "UPDATE" in text or "command from process metallb" in text, text[-500:]


# rule N14: the file and its .1 never pass the bound, are 0600, and the name never goes
# missing while rotating (no ExaBGP needed for the file's own rules)
def test_bounded_log_rotates_at_the_bound_and_files_are_private(tmp_path):
    path = tmp_path / "exabgp.log"
    path.write_bytes(b"x" * 100)  # an earlier run's log, larger than the new bound
    path.chmod(0o644)
    log = BoundedLog(path, 64, redactor(lambda: ["pw"]))
    try:
        log.write("first line with pw\n")
        assert path.read_text() == "first line with <redacted>\n"
        older = tmp_path / "exabgp.log.1"
        assert older.read_bytes() == b"x" * 100  # rotated away at open
        for i in range(20):
            log.write(f"line {i:02d} ......\n")  # 15 bytes: 4 fit in 64
            assert path.stat().st_size <= 64 and older.stat().st_size <= 100
        log.write("y" * 200 + "\n")  # a line longer than the bound is cut to it
        assert path.read_bytes() == b"y" * 64
        assert older.read_text().endswith("line 19 ......\n")
        assert {oct(p.stat().st_mode & 0o777) for p in (path, older)} == {"0o600"}
    finally:
        log.close()
