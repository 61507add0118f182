"""The `process` ExaBGP runs for the speaker: a line relay between ExaBGP and a Unix socket.

ExaBGP only talks to its own children (JSON events on their stdin, commands read from
their stdout), but the speaker daemon is ExaBGP's parent, not its child. This relay is the
child: it connects to the socket the driver serves (a filesystem path, so it works even
when ExaBGP runs in another network namespace) and copies lines both ways. It imports
nothing from the project, so it runs with whatever Python ExaBGP starts it with.

Usage (written into the ExaBGP configuration by the driver):
    python3 exabgp_relay.py /path/to/api.sock
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def _stdin_to_socket(sock: socket.socket) -> None:
    """ExaBGP -> driver: events and acks. EOF means ExaBGP is gone: end the relay."""
    try:
        for line in sys.stdin.buffer:
            sock.sendall(line)
    except OSError:
        pass
    finally:
        os._exit(0)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: exabgp_relay.py SOCKET_PATH\n")
        return 2
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(argv[1])
    except OSError as exc:
        sys.stderr.write(f"exabgp_relay: cannot connect to {argv[1]}: {exc}\n")
        return 1
    threading.Thread(target=_stdin_to_socket, args=(sock,), daemon=True).start()
    out = sys.stdout.buffer
    # driver -> ExaBGP: commands, one per line, flushed at once (ExaBGP polls our stdout).
    with sock.makefile("rb") as commands:
        for line in commands:
            out.write(line)
            out.flush()
    return 0  # the driver closed the socket: nothing more to relay


if __name__ == "__main__":
    os._exit(main(sys.argv))
