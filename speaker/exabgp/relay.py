"""The `process` ExaBGP runs for the speaker: a line relay between ExaBGP and a Unix socket.

ExaBGP only talks to its own children (JSON events on their stdin, commands read from
their stdout), but the speaker daemon is ExaBGP's parent, not its child. This relay is the
child: it connects to the socket the driver serves (a filesystem path, so it works even
when ExaBGP runs in another network namespace) and copies lines both ways. It imports
nothing from the project, so it runs with whatever Python ExaBGP starts it with.

Usage (written into the ExaBGP configuration by the driver):
    python3 speaker/exabgp/relay.py /path/to/api.sock
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading

CHUNK = 65536


def _stdin_to_socket(sock: socket.socket) -> None:
    """ExaBGP -> driver: events and acks. EOF means ExaBGP is gone: end the relay."""
    try:
        while data := os.read(0, CHUNK):
            sock.sendall(data)
    except OSError:
        pass
    finally:
        os._exit(0)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        _say("usage: relay.py SOCKET_PATH\n")
        return 2
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(argv[1])
    except OSError as exc:
        _say(f"exabgp_relay: cannot connect to {argv[1]}: {exc}\n")
        _stop_orphaned_exabgp(os.getppid())  # nobody will ever drive this ExaBGP
        return 1
    exabgp = os.getppid()
    threading.Thread(target=_stdin_to_socket, args=(sock,), daemon=True).start()
    # driver -> ExaBGP: bytes are copied as they come; ExaBGP reassembles lines itself.
    try:
        while data := sock.recv(CHUNK):
            view = memoryview(data)
            while view:
                view = view[os.write(1, view):]
    except OSError as exc:
        _say(f"exabgp_relay: {exc}\n")
    _stop_orphaned_exabgp(exabgp)
    return 0


def _stop_orphaned_exabgp(exabgp: int) -> None:
    """The driver's socket is gone: the speaker died (a clean stop terminates ExaBGP
    first). An ExaBGP nobody drives must not keep announcing this node's routes, and
    ExaBGP 4.2 just carries on without its API process, so stop it: SIGTERM makes it
    close its sessions, and the router drops the routes at once. `exabgp` is checked to
    still be our parent, so a recycled PID is never signalled."""
    if exabgp > 1 and os.getppid() == exabgp:
        os.kill(exabgp, signal.SIGTERM)
        _say("exabgp_relay: the speaker is gone; stopping ExaBGP\n")


def _say(text: str) -> None:
    """Write to stderr (ExaBGP's output, read by the speaker through a pipe): when the
    speaker is gone that pipe is broken, and a failed message must not stop the relay."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except OSError:
        pass


if __name__ == "__main__":
    os._exit(main(sys.argv))
