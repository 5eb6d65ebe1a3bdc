"""Instant and range queries against Prometheus, through prometheus-api-client.

Every request has a timeout; queries run in a worker thread so the operator's event loop never
waits on the network; errors are reported per metric as text that never contains the
Authorization header, nor anything the server answered: a Rollout's author chooses the address,
so an answer's text could be anyone's data, and errors end up in status and Events. An error
says the HTTP status and a fixed reason; the body goes to a DEBUG log line at most.

Redirects are never followed: the allow-list (`--prometheus-allow`) judged the address a Rollout
names, and an answer from there must not send the query, or its Authorization header, anywhere
else. A redirect is an error that says so.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from ramp.engine.observations import MetricSample
from ramp.metrics.allowlist import NoRedirects
from ramp.metrics.sharing import SharedQueries

logger = logging.getLogger("ramp.metrics.prometheus")


class PrometheusProvider:
    """One Prometheus server as seen by the rollouts that point at it."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        insecure_skip_verify: bool = False,
        reuse: float = 1.0,
        in_flight: int = 8,
    ) -> None:
        self.address = address.rstrip("/")
        self.timeout = timeout
        # Rollouts asking the same query at about the same time share one request.
        self._shared = SharedQueries(self.sample, reuse=reuse, limit=in_flight)
        # Retries are the engine's business (errorLimit); a retrying client would stretch one
        # evaluation past the analysis interval while Prometheus is down.
        session = NoRedirects()
        session.verify = not insecure_skip_verify  # PrometheusConnect sets it only on its own
        self._client = PrometheusConnect(
            url=self.address,
            headers=dict(headers or {}),
            disable_ssl=insecure_skip_verify,
            retry=Retry(total=0, read=False, raise_on_status=False),
            timeout=timeout,  # type: ignore[arg-type]  # requests takes float seconds
            session=session,
        )

    async def evaluate(self, queries: Mapping[str, str]) -> dict[str, MetricSample]:
        """Run each query (by metric name) concurrently, off the event loop; a query another
        Rollout is asking or just asked is answered by that request (metrics.sharing)."""
        names = list(queries)
        if len(names) == 1:  # the usual case: no task to gather
            return {names[0]: await self._shared.sample(queries[names[0]])}
        samples = await asyncio.gather(*(self._shared.sample(queries[name]) for name in names))
        return dict(zip(names, samples, strict=True))

    def sample(self, query: str) -> MetricSample:
        """The current value of one query: a number, no data, or an error a person can act on."""
        try:
            result = self._client.custom_query(query)
        except Exception as e:  # every failure is an observation; the engine applies errorLimit
            return MetricSample(error=describe_error(e, self.address, self.timeout))
        try:
            return MetricSample(value=instant_value(result))
        except ValueError as e:
            return MetricSample(error=str(e))

    def close(self) -> None:
        """Release the HTTP session's pooled connections."""
        self._client.close()

    def query_range(
        self, query: str, start: datetime, end: datetime, step: float
    ) -> list[tuple[datetime, float | None]]:
        """The history of one query, for backtests: (time, value) points in time order."""
        try:
            result = self._client.custom_query_range(query, start, end, f"{step:g}s")
        except Exception as e:
            raise RuntimeError(describe_error(e, self.address, self.timeout)) from e
        if not result:
            return []
        if len(result) > 1:
            raise RuntimeError(too_many_series(len(result)))
        with _range_answer(result):
            return [
                (datetime.fromtimestamp(float(at), UTC), _number(value))
                for at, value in result[0]["values"]
            ]

    def range_by(
        self, query: str, label: str, start: datetime, end: datetime, step: float
    ) -> dict[str, list[tuple[datetime, float]]]:
        """A range query's series by the value of ``label`` (for backtests of compare metrics)."""
        try:
            result = self._client.custom_query_range(query, start, end, f"{step:g}s")
        except Exception as e:
            raise RuntimeError(describe_error(e, self.address, self.timeout)) from e
        out: dict[str, list[tuple[datetime, float]]] = {}
        with _range_answer(result):
            for series in result or []:
                key = series.get("metric", {}).get(label)
                if key is None:
                    continue
                out[str(key)] = [
                    (datetime.fromtimestamp(float(at), UTC), float(value))
                    for at, value in series["values"]
                    if _number(value) is not None
                ]
        return out

    def by_label(self, query: str, label: str, at: datetime) -> dict[str, float]:
        """An instant query evaluated at ``at``, one value per value of ``label`` (series
        without it, or NaN, are left out); RuntimeError with an actionable text on failure."""
        try:
            result = self._client.custom_query(query, params={"time": f"{at.timestamp():.3f}"})
        except Exception as e:
            raise RuntimeError(describe_error(e, self.address, self.timeout)) from e
        values: dict[str, float] = {}
        try:
            for series in result or []:
                key = series["metric"].get(label)
                value = _number(series["value"][1])
                if key is not None and value is not None:
                    values[str(key)] = values.get(str(key), 0.0) + value
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            logger.debug("unreadable vector result: %r", result)
            raise RuntimeError(
                "the answer is not an instant vector of numbers (is the address a Prometheus API?)"
            ) from e
        return values


@contextmanager
def _range_answer(result: Any) -> Iterator[None]:
    """Reading a range query's answer: one that is not a matrix of numbers (a server that is
    not Prometheus, a vector) is a RuntimeError with a fixed text, never a crash of the caller
    (the dashboard's charts, backtests), and never quotes the answer."""
    try:
        yield
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        logger.debug("unreadable range query result: %r", result)
        raise RuntimeError(
            "the answer is not a range of numbers (is the address a Prometheus API?)"
        ) from e


def instant_value(result: Any) -> float | None:
    """The single value of an instant query result; None when there is no data (or NaN).

    ValueError, with a fixed text, when the result is not one number: the text never quotes the
    answer, which may come from a server the Rollout's author runs.
    """
    if not result:
        return None
    if isinstance(result, list) and len(result) > 1 and isinstance(result[0], dict):
        raise ValueError(too_many_series(len(result)))
    try:
        if isinstance(result, list) and len(result) == 2:
            return _number(result[1])  # a scalar result: [time, "value"]
        return _number(result[0]["value"][1])
    except (ValueError, TypeError, KeyError, IndexError) as e:
        logger.debug("unreadable instant query result: %r", result)
        raise ValueError(
            "the answer is not an instant vector or scalar of numbers (is the address a "
            "Prometheus API?)"
        ) from e


def too_many_series(count: int) -> str:
    return (
        f"query returned {count} series; aggregate it to one "
        "(for example with sum(), max() or histogram_quantile())"
    )


def describe_error(error: Exception, address: str, timeout: float) -> str:
    if isinstance(error, requests.exceptions.SSLError):
        return (
            f"TLS verification of Prometheus at {address} failed (untrusted or mismatched "
            "certificate); fix the certificate, or set insecureSkipVerify only for testing"
        )
    if isinstance(error, requests.Timeout):
        return f"Prometheus at {address} did not answer within {timeout:g}s"
    if isinstance(error, requests.ConnectionError):
        return f"cannot reach Prometheus at {address}"
    if isinstance(error, PrometheusApiClientException):
        code = http_status(str(error))
        if code is not None and 300 <= code < 400:
            # Never the Location: it is the server's answer, and could be anyone's data.
            return (
                f"Prometheus at {address} redirected the query (HTTP {code}), and redirects are "
                "not followed: fix spec.analysis.prometheus.address to the URL Prometheus "
                "answers at itself"
            )
        return f"Prometheus at {address} refused the query: {refusal_reason(str(error))}"
    return f"query to Prometheus at {address} failed: {type(error).__name__}"


REFUSALS = {
    400: "bad query (HTTP 400); check the PromQL, for example in the Prometheus UI",
    401: "not authorized (HTTP 401); check the Secret named by "
    "spec.analysis.prometheus.authorization",
    403: "forbidden (HTTP 403); check the Secret named by spec.analysis.prometheus.authorization",
    404: "not found (HTTP 404); spec.analysis.prometheus.address must be the server's base URL",
    422: "the query cannot be executed (HTTP 422); check the PromQL",
    429: "too many requests (HTTP 429); the server is rate limiting",
    503: "unavailable (HTTP 503); the server is overloaded or starting",
}
"""Fixed reasons by HTTP status: errors never quote what the server answered."""


def refusal_reason(client_message: str) -> str:
    """A fixed reason for an HTTP error from the client's "HTTP Status Code N (b'<body>')"."""
    logger.debug("Prometheus refused a query: %s", client_message)
    code = http_status(client_message)
    if code is None:
        return "unexpected answer"
    if code in REFUSALS:
        return REFUSALS[code]
    if code >= 500:
        return f"server error (HTTP {code})"
    return f"unexpected answer (HTTP {code})"


def http_status(client_message: str) -> int | None:
    """The HTTP status in the client's "HTTP Status Code N (b'<body>')", if there is one."""
    found = re.match(r"HTTP Status Code (\d{3})\b", client_message)
    return None if found is None else int(found.group(1))


def _number(text: str) -> float | None:
    value = float(text)
    return None if math.isnan(value) else value
