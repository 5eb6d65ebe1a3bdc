"""Many Rollouts, one Prometheus: identical queries asked at about the same time are sent once,
and no more than a bounded number of requests are in flight at once (metrics.sharing).

The server is the tests' listener, a real HTTP server on 127.0.0.1: it answers every query with
the value 1 as Prometheus does, holds each answer until the test releases it, and counts the
requests and the most it had in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ramp.metrics.prometheus import PrometheusProvider
from tests.support.eventually import eventually_async
from tests.support.listener import Listener


@pytest.fixture
def prometheus() -> Iterator[Listener]:
    server = Listener()
    server.answer_prometheus_value(1)
    server.hold()
    yield server
    server.close()


async def test_rollouts_asking_the_same_query_at_once_send_one_request(
    prometheus: Listener,
) -> None:
    provider = PrometheusProvider(prometheus.url, timeout=5, reuse=0.0)
    query = "sum(rate(reports_failed_total[5m]))"
    asks = [asyncio.create_task(provider.evaluate({"error-rate": query})) for _ in range(50)]

    async def one_in_flight() -> bool:
        return prometheus.in_flight() == 1

    await eventually_async(one_in_flight, timeout=5, what="the first request to arrive")
    await asyncio.sleep(0.05)  # give a wrongly duplicated request its chance to arrive
    prometheus.release()
    answers = await asyncio.gather(*asks)

    sent = prometheus.queries()[query]
    assert sent == 1, f"sent {sent} times for 50 Rollouts"
    assert all(a["error-rate"].value == 1.0 for a in answers), answers
    provider.close()


async def test_an_answer_is_reused_within_the_window_and_asked_again_after_it(
    prometheus: Listener,
) -> None:
    prometheus.release()
    provider = PrometheusProvider(prometheus.url, timeout=5, reuse=0.3)
    query = "max(dlq_messages)"
    await provider.evaluate({"dlq": query})
    await provider.evaluate({"dlq": query})
    assert prometheus.queries()[query] == 1, "a fresh answer was asked for again"

    await asyncio.sleep(0.4)
    await provider.evaluate({"dlq": query})
    assert prometheus.queries()[query] == 2, "an answer older than the window was reused"
    provider.close()


async def test_a_burst_of_distinct_queries_keeps_a_bounded_number_in_flight(
    prometheus: Listener,
) -> None:
    provider = PrometheusProvider(prometheus.url, timeout=5, reuse=0.0, in_flight=3)
    asks = [asyncio.create_task(provider.evaluate({"m": f"vector({i})"})) for i in range(20)]

    async def bound_reached() -> bool:
        return prometheus.in_flight() == 3

    await eventually_async(bound_reached, timeout=5, what="3 requests in flight")
    await asyncio.sleep(0.1)  # a fourth request, if let through, arrives meanwhile
    assert prometheus.in_flight() == 3
    prometheus.release()
    await asyncio.gather(*asks)

    asked = prometheus.queries()
    assert sum(asked.values()) == 20, asked
    most = prometheus.most_in_flight()
    assert most == 3, f"{most} requests were in flight"
    provider.close()
