"""Backtests of compare metrics count each step's units as differences of the recorded
totals: exact counts, and a counter reset is a restart from zero, never a negative count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ramp.api.spec import Compare
from ramp.metrics.cohorts import differences, totals_query

T0 = datetime(2026, 12, 2, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_each_step_counts_what_the_total_grew_by() -> None:
    points = [(at(0), 10.0), (at(2), 13.0), (at(4), 13.0), (at(6), 20.0)]
    assert differences(points) == [(at(2), 3.0), (at(4), 0.0), (at(6), 7.0)]


def test_a_drop_is_a_reset_and_counts_the_new_total() -> None:
    points = [(at(0), 50.0), (at(2), 4.0), (at(4), 9.0)]
    assert differences(points) == [(at(2), 4.0), (at(4), 5.0)]


def test_the_totals_query_selects_the_flag_and_both_variants() -> None:
    spec = Compare(failures='jobs_failed_total{queue="reports"}', total="jobs_total")
    query = totals_query(spec.failures, spec, "reports-v2")
    assert query == (
        "sum by (feature_flag_result_variant) (jobs_failed_total{"
        'queue="reports", feature_flag_key="reports-v2", '
        'feature_flag_result_variant=~"on|off"})'
    )
