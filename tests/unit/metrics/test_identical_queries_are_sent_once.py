"""Many Rollouts, one Prometheus: identical queries asked at about the same time are sent once,
and no more than a bounded number of requests are in flight at once (metrics.sharing).

The server is a real HTTP server on 127.0.0.1 that answers as Prometheus does, holds each answer
until the test releases it, and counts the requests and the most it had in flight.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ramp.metrics.prometheus import PrometheusProvider
from tests.support.eventually import eventually_async


class HeldPrometheus:
    """Answers every instant query with the value 1, once the test lets answers go."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()
        self.flying = 0
        self.most_flying = 0
        self.release = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query).get("query", [""])[0]
                with server._lock:
                    server.asked[query] += 1
                    server.flying += 1
                    server.most_flying = max(server.most_flying, server.flying)
                server.release.wait(timeout=10)
                with server._lock:
                    server.flying -= 1
                result = [{"metric": {}, "value": [0, "1"]}]
                body = json.dumps(
                    {"status": "success", "data": {"resultType": "vector", "result": result}}
                ).encode()
                self.send_response(200)
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

    def waiting(self) -> int:
        with self._lock:
            return self.flying

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prometheus() -> Iterator[HeldPrometheus]:
    server = HeldPrometheus()
    yield server
    server.close()


async def test_rollouts_asking_the_same_query_at_once_send_one_request(
    prometheus: HeldPrometheus,
) -> None:
    provider = PrometheusProvider(prometheus.url, timeout=5, reuse=0.0)
    query = "sum(rate(reports_failed_total[5m]))"
    asks = [asyncio.create_task(provider.evaluate({"error-rate": query})) for _ in range(50)]

    async def one_in_flight() -> bool:
        return prometheus.waiting() == 1

    await eventually_async(one_in_flight, timeout=5, what="the first request to arrive")
    await asyncio.sleep(0.05)  # give a wrongly duplicated request its chance to arrive
    prometheus.release.set()
    answers = await asyncio.gather(*asks)

    assert prometheus.asked[query] == 1, f"sent {prometheus.asked[query]} times for 50 Rollouts"
    assert all(a["error-rate"].value == 1.0 for a in answers), answers
    provider.close()


async def test_an_answer_is_reused_within_the_window_and_asked_again_after_it(
    prometheus: HeldPrometheus,
) -> None:
    prometheus.release.set()
    provider = PrometheusProvider(prometheus.url, timeout=5, reuse=0.3)
    query = "max(dlq_messages)"
    await provider.evaluate({"dlq": query})
    await provider.evaluate({"dlq": query})
    assert prometheus.asked[query] == 1, "a fresh answer was asked for again"

    await asyncio.sleep(0.4)
    await provider.evaluate({"dlq": query})
    assert prometheus.asked[query] == 2, "an answer older than the window was reused"
    provider.close()


async def test_a_burst_of_distinct_queries_keeps_a_bounded_number_in_flight(
    prometheus: HeldPrometheus,
) -> None:
    provider = PrometheusProvider(prometheus.url, timeout=5, reuse=0.0, in_flight=3)
    asks = [asyncio.create_task(provider.evaluate({"m": f"vector({i})"})) for i in range(20)]

    async def bound_reached() -> bool:
        return prometheus.waiting() == 3

    await eventually_async(bound_reached, timeout=5, what="3 requests in flight")
    await asyncio.sleep(0.1)  # a fourth request, if let through, arrives meanwhile
    assert prometheus.waiting() == 3
    prometheus.release.set()
    await asyncio.gather(*asks)

    assert sum(prometheus.asked.values()) == 20, prometheus.asked
    assert prometheus.most_flying == 3, f"{prometheus.most_flying} requests were in flight"
    provider.close()
