"""One Prometheus server's queries, shared among the Rollouts that ask the same thing.

A platform team's Rollouts often query the same expression (a service's error rate, a queue's
depth). When several ask it at about the same moment, one request answers them all:

- a query already in flight is not sent again: the later askers wait for its answer;
- an answer younger than ``reuse`` seconds is handed out again, not asked for again;
- at most ``limit`` requests are in flight to the server at once, so a burst of due analyses
  (every Rollout right after an operator restart) queues here instead of stampeding Prometheus.

Errors are shared like values: the engine counts them against errorLimit the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import Counter

from ramp.engine.observations import MetricSample

queries = Counter(
    "ramp_metric_queries_total",
    "Metric queries asked by Rollouts: 'sent' to Prometheus, or 'shared' (answered by an "
    "identical query in flight or just answered).",
    ["outcome"],
)


@dataclass
class _Answer:
    sample: MetricSample
    at: float
    """time.monotonic() when the answer arrived."""


@dataclass
class SharedQueries:
    """Single-flight, briefly reused, bounded queries against one server."""

    send: Callable[[str], MetricSample]
    """The blocking query itself (run in a worker thread)."""

    reuse: float = 1.0
    """Seconds an answer is handed to other askers of the same query."""

    limit: int = 8
    """Requests in flight to the server at most."""

    _answers: dict[str, _Answer] = field(default_factory=dict)
    _flying: dict[str, asyncio.Future[MetricSample]] = field(default_factory=dict)
    _slots: asyncio.Semaphore | None = None
    _swept: float = 0.0

    async def sample(self, query: str) -> MetricSample:
        answer = self._answers.get(query)
        if answer is not None and time.monotonic() - answer.at <= self.reuse:
            queries.labels("shared").inc()
            return answer.sample
        flying = self._flying.get(query)
        if flying is not None:
            queries.labels("shared").inc()
            try:
                return await asyncio.shield(flying)
            except asyncio.CancelledError:
                if not flying.cancelled():
                    raise  # this asker was cancelled, not the query
                return await self.sample(query)  # its sender was: ask again
        future: asyncio.Future[MetricSample] = asyncio.get_running_loop().create_future()
        self._flying[query] = future
        try:
            if self._slots is None:  # made in the running loop, on first use
                self._slots = asyncio.Semaphore(self.limit)
            async with self._slots:
                queries.labels("sent").inc()
                result = await asyncio.to_thread(self.send, query)
        except BaseException:
            future.cancel()  # the waiters ask again themselves (send() returns errors as samples)
            raise
        finally:
            del self._flying[query]
        now = time.monotonic()
        self._forget_old(now)
        self._answers[query] = _Answer(result, now)
        future.set_result(result)
        return result

    def _forget_old(self, now: float) -> None:
        """Drop expired answers, at most once per reuse period, so queries nobody asks any more
        do not pile up and the sweep stays cheap however many there are."""
        if now - self._swept <= self.reuse:
            return
        self._swept = now
        for query in [q for q, a in self._answers.items() if now - a.at > self.reuse]:
            del self._answers[query]
