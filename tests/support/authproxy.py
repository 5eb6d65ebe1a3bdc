"""An authenticating proxy in front of the testbed's real Prometheus, as oauth2-proxy or a
hosted Prometheus would be: it answers 401 unless the Authorization header is right."""

from __future__ import annotations

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "Bearer pr0m-t0ken"


class AuthProxy:
    """An authenticating proxy in front of the real Prometheus (as oauth2-proxy would be)."""

    def __init__(self, upstream: str) -> None:
        self.seen: list[str | None] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.seen.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != TOKEN:
                    self.send_response(401)
                    self.end_headers()
                    self.wfile.write(b'{"status":"error","error":"unauthorized"}')
                    return
                with urllib.request.urlopen(upstream + self.path, timeout=5) as r:
                    body = r.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
