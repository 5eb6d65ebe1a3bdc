"""Instant and range queries against Prometheus, through prometheus-api-client.

Every request has a timeout; queries run in a worker thread so the operator's event loop never
waits on the network; errors are reported per metric as text that never contains the
Authorization header.
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from ramp.engine.observations import MetricSample


class PrometheusProvider:
    """One Prometheus server as seen by the rollouts that point at it."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        insecure_skip_verify: bool = False,
    ) -> None:
        self.address = address.rstrip("/")
        self.timeout = timeout
        # Retries are the engine's business (errorLimit); a retrying client would stretch one
        # evaluation past the analysis interval while Prometheus is down.
        self._client = PrometheusConnect(
            url=self.address,
            headers=dict(headers or {}),
            disable_ssl=insecure_skip_verify,
            retry=Retry(total=0, read=False, raise_on_status=False),
            timeout=timeout,  # type: ignore[arg-type]  # requests takes float seconds
        )

    async def evaluate(self, queries: Mapping[str, str]) -> dict[str, MetricSample]:
        """Run each query (by metric name) once, concurrently, off the event loop."""
        names = list(queries)
        samples = await asyncio.gather(
            *(asyncio.to_thread(self.sample, queries[name]) for name in names)
        )
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
        return [
            (datetime.fromtimestamp(float(at), UTC), _number(value))
            for at, value in result[0]["values"]
        ]


def instant_value(result: Any) -> float | None:
    """The single value of an instant query result; None when there is no data (or NaN)."""
    if not result:
        return None
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return _number(result[1])  # a scalar result: [time, "value"]
    if len(result) > 1:
        raise ValueError(too_many_series(len(result)))
    return _number(result[0]["value"][1])


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
        return f"Prometheus at {address} refused the query: {_api_error(str(error))}"
    return f"query to Prometheus at {address} failed: {type(error).__name__}"


def _api_error(text: str) -> str:
    # The client's message is "HTTP Status Code N (b'<body>')"; Prometheus puts the reason in
    # the body's "error" field.
    status = text.split(" (", 1)[0]
    try:
        body = ast.literal_eval(text.split(" (", 1)[1][:-1])
        reason = json.loads(body)["error"]
    except (IndexError, ValueError, SyntaxError, TypeError, KeyError):
        return text[:200]
    return f"{reason} ({status})"


def _number(text: str) -> float | None:
    value = float(text)
    return None if math.isnan(value) else value
