"""The lab's kube-proxy stand-in: relay TCP connections between network namespaces.

A socket belongs to the namespace it was created in, whatever the process does later.
So one process can listen in one namespace and connect in another: the listening socket
is made after entering the listen namespace, each outgoing socket by a thread that
entered the connect namespace (setns changes only the calling thread). Used both ways:
a pod reaches the API emulator (root namespace, 127.0.0.1) at 127.0.0.1:PORT in its
own namespace; the lab and Prometheus reach a pod's metrics and probe port from the
root namespace.

    python3 -m lab.portforward --listen [NETNS/]HOST:PORT --connect [NETNS/]HOST:PORT

Logs `event=forward_listening listen=HOST:PORT` (the real port when PORT is 0).
Threads: the main thread accepts; each connection gets a thread per direction.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Endpoint:
    netns: str | None  # a name under /run/netns, or None for this process's namespace
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        netns, _, address = text.rpartition("/")
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise argparse.ArgumentTypeError(f"{text!r}: expected [NETNS/]HOST:PORT")
        return cls(netns or None, host, int(port))


def enter_netns(name: str | None) -> None:
    """Move the calling thread into /run/netns/NAME (None: stay)."""
    if name is None:
        return
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def listen(endpoint: Endpoint) -> socket.socket:
    """A listening socket inside `endpoint.netns`; the calling thread comes back after."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        enter_netns(endpoint.netns)
        server = socket.create_server((endpoint.host, endpoint.port), reuse_port=False)
    finally:
        _libc.setns(home, CLONE_NEWNET)
        os.close(home)
    return server


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _relay(client: socket.socket, target: Endpoint) -> None:
    try:
        enter_netns(target.netns)
        upstream = socket.create_connection((target.host, target.port), timeout=5)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve(server: socket.socket, target: Endpoint) -> None:
    while True:
        client, _ = server.accept()
        threading.Thread(target=_relay, args=(client, target), daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lab.portforward",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=Endpoint.parse, required=True)
    parser.add_argument("--connect", type=Endpoint.parse, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = listen(args.listen)
    host, port = server.getsockname()[:2]
    print(f"event=forward_listening listen={host}:{port} netns={args.listen.netns or '-'} "
          f"connect={args.connect.host}:{args.connect.port} "
          f"connect_netns={args.connect.netns or '-'}", flush=True)
    serve(server, args.connect)
    return 0


if __name__ == "__main__":
    sys.exit(main())
