"""An HTTP server on 127.0.0.1 that the test controls, standing in for an address a Rollout's
author chose: it records every request with its headers and answers what the test says (an
error whose body carries a distinctive secret, a Prometheus-shaped result, or a redirect), at
once or only when the test releases the answers."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECRET_BODY_TEXT = "internal-s3cr3t-0f-the-listener"
"""Text only the listener's answers contain: it must never show up in status, Events or logs."""

HOLD_LIMIT = 10.0
"""Seconds a held request waits for `Listener.release` before it is answered anyway."""


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


class Listener:
    """Answers every GET with ``status`` and ``body``; ``requests`` lists what arrived. After
    `hold`, each request waits for `release` before it is answered."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 400
        self.body = json.dumps(
            {"status": "error", "errorType": "bad_data", "error": SECRET_BODY_TEXT}
        ).encode()
        self.headers: dict[str, str] = {}
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self._in_flight = 0
        self._most_in_flight = 0
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with listener._lock:
                    listener.requests.append(Request(self.path, dict(self.headers.items())))
                    listener._in_flight += 1
                    listener._most_in_flight = max(listener._most_in_flight, listener._in_flight)
                listener._released.wait(timeout=HOLD_LIMIT)
                with listener._lock:
                    listener._in_flight -= 1
                    status, body = listener.status, listener.body
                    headers = dict(listener.headers)
                self.send_response(status)
                for header, value in headers.items():
                    self.send_header(header, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def answer_prometheus_value(self, value: float) -> None:
        """From now on, answer every query with one series of ``value``, as Prometheus would."""
        result = [{"metric": {}, "value": [0, str(value)]}]
        body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        with self._lock:
            self.status, self.body, self.headers = 200, json.dumps(body).encode(), {}

    def answer_prometheus_range(self, at: float, value: float) -> None:
        """From now on, answer every query with one series of one point, as Prometheus answers
        a range query."""
        result = [{"metric": {}, "values": [[at, str(value)]]}]
        body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
        with self._lock:
            self.status, self.body = 200, json.dumps(body).encode()

    def answer(self, status: int, body: bytes) -> None:
        with self._lock:
            self.status, self.body, self.headers = status, body, {}

    def answer_redirect(self, location: str, status: int = 302) -> None:
        """From now on, send every request on to ``location`` (a body carrying the secret)."""
        with self._lock:
            self.status, self.headers = status, {"Location": location}
            self.body = f"moved to {location}: {SECRET_BODY_TEXT}".encode()

    def authorization_headers(self) -> list[str]:
        with self._lock:
            return [
                r.headers["Authorization"] for r in self.requests if "Authorization" in r.headers
            ]

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def queries(self) -> Counter[str]:
        """How many requests asked each PromQL query (the ``query`` URL parameter)."""
        with self._lock:
            paths = [r.path for r in self.requests]
        return Counter(parse_qs(urlsplit(path).query).get("query", [""])[0] for path in paths)

    def hold(self) -> None:
        """From now on, keep each request waiting, unanswered, until `release`."""
        self._released.clear()

    def release(self) -> None:
        """Answer the requests held so far, and every later one at once."""
        self._released.set()

    def in_flight(self) -> int:
        """Requests that have arrived and are still held (not yet let through to an answer)."""
        with self._lock:
            return self._in_flight

    def most_in_flight(self) -> int:
        """The most requests that were in flight at one time."""
        with self._lock:
            return self._most_in_flight

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


RANGE_AT = 1765105200.0
"""When the one point of `range_listener`'s series is."""


@contextmanager
def range_listener() -> Iterator[Listener]:
    """A listener answering every query with one series of one 0 at RANGE_AT, as Prometheus
    answers a range query."""
    server = Listener()
    server.answer_prometheus_range(RANGE_AT, 0)
    try:
        yield server
    finally:
        server.close()
