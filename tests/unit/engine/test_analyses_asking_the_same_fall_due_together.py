"""Analyses that ask the same queries of the same Prometheus fall due at the same moments, so
one request answers all of them (issue: identical queries due in the same interval are sent
once), while different ones spread over the interval; and no analysis waits longer than its
interval, which promotion on fresh values (I5) and stepping down under a breach (I6) rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ramp.api import RolloutSpec
from ramp.engine import analysis_due, next_wakeup
from ramp.engine.schedule import analysis_offset, next_analysis_at
from tests.support.engine import T0, Run, analysis, errors_metric, make_spec, seconds

MICROSECOND = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

intervals = st.integers(min_value=1, max_value=3600).map(lambda s: f"{s}s")
moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
queries = st.text(alphabet="abcdefghij(){}[]*+ 0123456789", min_size=1, max_size=40)
latencies = st.floats(min_value=0, max_value=0.124)
"""How long after it fell due an analysis is taken (queued, then its query answered), as a
fraction of the interval."""


def spec_asking(
    query: str, interval: str = "30s", address: str = "http://prometheus:9090"
) -> RolloutSpec:
    metric = {"name": "errors", "query": query, "critical": {"above": 0.05}}
    prometheus = {"address": address}
    return make_spec(analysis=analysis(metric, interval=interval, prometheus=prometheus))


def on_slot(at: datetime, offset: int, every: timedelta) -> bool:
    return (at - EPOCH) // MICROSECOND % (every // MICROSECOND) == offset


@given(interval=intervals, last=moments, query=queries)
def test_never_more_than_one_interval_nor_less_than_half_apart(
    interval: str, last: datetime, query: str
) -> None:
    spec = spec_asking(query, interval)
    assert spec.analysis is not None
    every = spec.analysis.every
    gap = next_analysis_at(spec.analysis, last) - last
    assert every / 2 <= gap <= every


@given(
    interval=intervals,
    first=moments,
    query=queries,
    late=st.lists(latencies, min_size=4, max_size=4),
)
def test_on_its_slot_from_the_third_analysis_on_even_when_each_is_taken_late(
    interval: str, first: datetime, query: str, late: list[float]
) -> None:
    spec = spec_asking(query, interval)
    assert spec.analysis is not None
    every = spec.analysis.every
    offset = analysis_offset(spec.analysis)
    taken = first
    for i, lateness in enumerate(late):
        due = next_analysis_at(spec.analysis, taken)
        if i >= 2:
            assert on_slot(due, offset, every), f"analysis {i + 2} is not on its slot"
        taken = due + every * lateness  # queued, then the query took its time


@given(first=moments, second=moments, query=queries)
def test_rollouts_asking_the_same_analyse_at_the_same_moments(
    first: datetime, second: datetime, query: str
) -> None:
    one, other = spec_asking(query), spec_asking(query)
    assert one.analysis is not None and other.analysis is not None
    a, b = first, second
    for _ in range(2):
        a, b = next_analysis_at(one.analysis, a), next_analysis_at(other.analysis, b)
    # Both on the same grid: whole intervals apart, so in any one interval they are due together.
    assert (a - b) % one.analysis.every == timedelta(0)


def test_different_queries_spread_over_the_interval() -> None:
    every = seconds(30)
    offsets = [
        analysis_offset(spec.analysis)
        for i in range(100)
        if (spec := spec_asking(f"sum(rate(errors_total{{service='s{i}'}}[1m]))")).analysis
    ]
    tenths = {offset * 10 // (every // MICROSECOND) for offset in offsets}
    assert tenths == set(range(10)), f"slots bunch up: {sorted(offsets)}"
    other_server = spec_asking("sum(errors)", address="http://other:9090").analysis
    same_server = spec_asking("sum(errors)").analysis
    assert other_server is not None and same_server is not None
    assert analysis_offset(other_server) != analysis_offset(same_server)


def test_the_operator_wakes_for_the_slot_and_analyses_there() -> None:
    run = Run(make_spec(analysis=analysis(errors_metric())))
    run.step(metrics={"errors": 0.0})
    assert run.status.last_analysis_at == T0
    spec_analysis = run.spec.analysis
    assert spec_analysis is not None
    due = next_analysis_at(spec_analysis, T0)
    wake = next_wakeup(run.spec, run.status, T0)
    assert wake == due
    assert not analysis_due(run.spec, run.status, due - MICROSECOND)
    run.step(due - T0, {"errors": 0.0})
    assert run.status.last_analysis_at == due
    assert on_slot(
        next_analysis_at(spec_analysis, due), analysis_offset(spec_analysis), seconds(30)
    )


@given(last=moments, lateness=st.lists(latencies, min_size=3, max_size=3))
def test_an_analysis_with_a_compare_metric_keeps_its_own_rhythm(
    last: datetime, lateness: list[float]
) -> None:
    """A compare metric's windows run from one analysis to the next; on a fixed slot each would
    end at the same moment relative to Prometheus's scrapes, so one unlucky moment (a scrape
    landing between the window's two queries) would repeat in every window."""
    compare = {"failures": "jobs_failed_total", "total": "jobs_total"}
    spec = make_spec(analysis=analysis({"name": "cohorts", "compare": compare}))
    assert spec.analysis is not None
    every = spec.analysis.every
    taken = last
    for late in lateness:
        due = next_analysis_at(spec.analysis, taken)
        assert due - taken == every
        taken = due + every * late
