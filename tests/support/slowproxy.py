"""A proxy on 127.0.0.1 in front of the testbed's real Prometheus that answers some queries late,
as a loaded Prometheus does: each request is held for a random time below the query timeout
(so it still answers) before it is forwarded. Seeded, so a run's share of slow answers is the
same each time (which query it falls on depends on the cluster's timing)."""

from __future__ import annotations

import random
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UNREACHABLE = b'{"status":"error","errorType":"unavailable","error":"upstream unreachable"}'


class SlowProxy:
    """Forwards every request to ``upstream``; a ``share`` of them is first held for up to
    ``longest`` seconds (uniformly)."""

    def __init__(
        self, upstream: str, seed: int | str, *, longest: float, share: float = 0.3
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.answered = 0
        self.delayed = 0
        self.longest_delay = 0.0
        rng = random.Random(seed)
        lock = threading.Lock()
        proxy = self

        def delay() -> float:
            with lock:
                proxy.answered += 1
                if rng.random() >= share:
                    return 0.0
                held = rng.uniform(0.0, longest)
                proxy.delayed += 1
                proxy.longest_delay = max(proxy.longest_delay, held)
                return held

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def _forward(self, body: bytes | None) -> None:
                time.sleep(delay())  # the slowness under test, not synchronisation
                headers = {"Content-Type": self.headers.get("Content-Type", "")} if body else {}
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as r:
                        status, answer = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, answer = e.code, e.read()
                except OSError:  # Prometheus restarting: answer as a gateway would
                    status, answer = 502, UNREACHABLE
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the operator gave up waiting (its query timed out, or it was killed)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, name="slow proxy", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
