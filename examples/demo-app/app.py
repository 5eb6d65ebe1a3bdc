"""Ramp's demo app: a small HTTP service that decides per user with `ramp.flags`.

Each request names a user (`GET /?user=alice`); users inside the rollout get the new code path.
The app exports Prometheus metrics (requests by outcome and path, latency histogram) so Ramp can
judge the rollout. `--new-path-error-rate` makes the new code path fail that share of requests,
which is how the demo shows an automatic rollback.

In Kubernetes the ConfigMap is mounted as a directory (never with subPath) and `FLAGS_FILE`
points at `flags.json` inside it; `--self-traffic` makes the app call itself, so a local demo
needs no load generator.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ramp.flags import FlagFile

registry = CollectorRegistry()
requests = Counter(
    "demo_requests", "Requests served.", ["app", "path", "outcome"], registry=registry
)
latency = Histogram(
    "demo_request_seconds",
    "Request latency.",
    ["app"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=registry,
)


class Service:
    def __init__(self, name: str, flags: FlagFile, flag_key: str, new_path_error_rate: float):
        self.name = name
        self.flags = flags
        self.flag_key = flag_key
        self.new_path_error_rate = new_path_error_rate
        self.random = random.Random(7)
        # Export every series from the start, at zero: an error ratio needs its numerator to
        # exist before the first error, or it has no data.
        for path in ("old", "new"):
            for outcome in ("ok", "error"):
                requests.labels(name, path, outcome)

    def serve(self, user: str) -> tuple[int, str]:
        started = time.perf_counter()
        new = self.flags.is_enabled(self.flag_key, user)
        path = "new" if new else "old"
        failed = new and self.random.random() < self.new_path_error_rate
        outcome = "error" if failed else "ok"
        requests.labels(self.name, path, outcome).inc()
        latency.labels(self.name).observe(time.perf_counter() - started + 0.01)
        return (500 if failed else 200), f"{self.name}: {user} got the {path} path ({outcome})\n"


def handler_for(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/metrics":
                body, code, kind = generate_latest(registry), 200, CONTENT_TYPE_LATEST
            else:
                user = parse_qs(url.query).get("user", ["anonymous"])[0]
                code, text = service.serve(user)
                body, kind = text.encode(), "text/plain"
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def self_traffic(service: Service, per_second: int) -> None:
    """Simulated users: a steady stream of requests from 5000 distinct user ids."""
    users = [f"user-{i}" for i in range(5000)]
    rng = random.Random(11)
    while True:
        for _ in range(per_second):
            service.serve(rng.choice(users))
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="demo")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--flags-file", default="/etc/ramp/flags.json")
    parser.add_argument("--flag-key", default="demo")
    parser.add_argument("--new-path-error-rate", type=float, default=0.0)
    parser.add_argument("--self-traffic", type=int, default=0, help="requests per second")
    args = parser.parse_args()

    service = Service(args.name, FlagFile(args.flags_file), args.flag_key, args.new_path_error_rate)
    if args.self_traffic:
        threading.Thread(
            target=self_traffic, args=(service, args.self_traffic), daemon=True
        ).start()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(service))
    server.serve_forever()


if __name__ == "__main__":
    main()
