"""An authenticating proxy in front of the testbed's real Prometheus, as oauth2-proxy or a
hosted Prometheus would be: it answers 401 unless the Authorization header is right."""

from __future__ import annotations

import ssl
import subprocess
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOKEN = "Bearer pr0m-t0ken"


class AuthProxy:
    """An authenticating proxy in front of the real Prometheus (as oauth2-proxy would be)."""

    def __init__(self, upstream: str, tls: tuple[Path, Path] | None = None) -> None:
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
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile=tls[0], keyfile=tls[1])
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"{scheme}://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no trust store knows, made with the openssl CLI."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [
            "openssl",
            *args,
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
