"""Stand-ins for what kube-proxy and a client would do in the demo.

`serve`: a tiny HTTP server inside a node namespace answering every request with the
node's name, so a request to the service address shows which node ECMP picked.
`probe`: run inside the router namespace; opens `count` separate connections (each from
a new source port, which the router's L4 multipath hash spreads over the next hops) and
prints one JSON object: answer -> number of responses.

    python -m lab.responder serve --name node0 --port 80
    python -m lab.responder probe --url http://198.51.100.20/ --count 24
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from metallb.logs import format_event


def serve(name: str, host: str, port: int) -> None:
    body = f"{name}\n".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per request would drown the lab's logs

    httpd = ThreadingHTTPServer((host, port), Handler)
    httpd.daemon_threads = True
    print(format_event("responder_listening", {"node": name, "address": f"{host}:{port}"}),
          flush=True)
    httpd.serve_forever()


def probe(url: str, count: int, timeout: float) -> dict[str, int]:
    """Answers by responder name; failures are counted under `error: ...`."""
    answers: Counter[str] = Counter()
    for _ in range(count):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                answers[response.read().decode().strip()] += 1
        except (urllib.error.URLError, OSError) as exc:
            answers[f"error: {getattr(exc, 'reason', exc)}"] += 1
    return dict(answers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.responder")
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--host", default="0.0.0.0")
    s.add_argument("--port", type=int, default=80)
    p = sub.add_parser("probe")
    p.add_argument("--url", required=True)
    p.add_argument("--count", type=int, default=24)
    p.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    if args.mode == "serve":
        try:
            serve(args.name, args.host, args.port)
        except OSError as exc:
            print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        return 0
    print(json.dumps(probe(args.url, args.count, args.timeout), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
