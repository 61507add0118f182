"""`ApiServer`: the emulator as an object tests and the lab start, stop and configure."""

from __future__ import annotations

import base64
import logging
import os
import socket
import ssl
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.apiserver.context import ServerContext
from lab.apiserver.handler import RequestHandler
from lab.apiserver.kubeconfig import kubeconfig_text
from lab.apiserver.tls import Certificate, self_signed
from metallb.logs import format_event, log_event

log = logging.getLogger("lab.apiserver")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    tls_context: ssl.SSLContext | None = None

    def handle_error(self, request: object, client_address: tuple) -> None:
        """A client that drops its connection (a killed daemon, a closed keep-alive) is
        routine: one log line, not socketserver's traceback on stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | ssl.SSLError | TimeoutError):
            log_event(log, "debug", "connection_dropped", client=client_address, error=repr(exc))
            return
        log.error("%s", format_event("request_failed", {"client": client_address}),
                  exc_info=True)

    def finish_request(self, request: socket.socket, client_address: tuple) -> None:
        """Runs in the connection's thread, so a slow TLS handshake blocks only itself."""
        if self.tls_context is not None:
            try:
                request = self.tls_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                log_event(log, "debug", "tls_handshake_failed", client=client_address,
                          error=exc)
                return
        super().finish_request(request, client_address)


class ApiServer(ServerContext):
    """A Kubernetes API emulator on 127.0.0.1: a `ServerContext` (state, tokens, RBAC,
    settings) served over HTTP(S) by a thread per connection.

    `tls`: serve HTTPS with a throwaway self-signed certificate (needs `openssl`);
    kubectl sends bearer tokens only over TLS. Other settings: see `ServerContext`.

    Threads: start() and stop() are called by the owner, one at a time; requests run in
    the listener's connection threads (see `ServerContext`).
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", token: str | None = None,
                 history_limit: int = 5000, seed: int | None = None,
                 bookmark_interval: float = 5.0, watch_timeout: float = 1800.0,
                 enforce_rbac: bool = False, tls: bool = False):
        super().__init__(token=token, history_limit=history_limit, seed=seed,
                         bookmark_interval=bookmark_interval, watch_timeout=watch_timeout,
                         enforce_rbac=enforce_rbac)
        self.host = host
        self.requested_port = port
        self.tls = tls
        self.certificate: Certificate | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ApiServer:
        handler = type("BoundRequestHandler", (RequestHandler,), {"api": self})
        self._httpd = _HTTPServer((self.host, self.requested_port), handler)
        if self.tls:
            try:
                self.certificate = self_signed(self.host)
            except Exception:
                self._httpd.server_close()
                self._httpd = None
                raise
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certificate.cert, self.certificate.key)
            self._httpd.tls_context = context
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"apiserver-{self.port}", daemon=True)
        self._thread.start()
        log_event(log, "info", "apiserver_started", url=self.url)
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.stopping.set()
        self.store.cut_watches()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = None
        if self.certificate is not None:
            self.certificate.remove()
        log_event(log, "info", "apiserver_stopped")

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until stop() is called from another thread or a signal handler."""
        self.stopping.wait()

    # ------------------------------------------------------------------- address

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the API server is not started")
        return int(self._httpd.server_address[1])

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address}"

    @property
    def ca_cert_path(self) -> Path | None:
        """The certificate to trust for HTTPS (None for plain HTTP)."""
        return self.certificate.cert if self.certificate else None

    # -------------------------------------------------------------- kubeconfig

    def write_kubeconfig(self, path: str | os.PathLike, token: str | None = None) -> Path:
        """Write a kubeconfig for this server (with `token`, or the admin token)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        ca = base64.b64encode(self.certificate.pem).decode() if self.certificate else None
        target.write_text(kubeconfig_text(self.url, token or self.token, ca_data=ca))
        return target
