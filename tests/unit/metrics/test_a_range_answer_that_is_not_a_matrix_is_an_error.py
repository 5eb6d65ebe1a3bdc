"""A range query answered with something other than a matrix of numbers (a vector, a server that
is not Prometheus) is an error with a fixed text, as an instant query's is: the dashboard's
charts and backtests show it instead of failing with a KeyError (HTTP 500 from `/series`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ramp.metrics.prometheus import PrometheusProvider
from tests.support.listener import SECRET_BODY_TEXT, Listener


def test_a_vector_answer_to_a_range_query_is_a_runtime_error() -> None:
    listener = Listener()
    try:
        listener.answer_prometheus_value(0.5)  # a vector, where a matrix is expected
        provider = PrometheusProvider(listener.url, timeout=2.0)
        end = datetime.now(UTC)
        with pytest.raises(RuntimeError, match="not a range of numbers") as raised:
            provider.query_range("errors", end - timedelta(minutes=5), end, 15)
        assert SECRET_BODY_TEXT not in str(raised.value)
        provider.close()
    finally:
        listener.close()
