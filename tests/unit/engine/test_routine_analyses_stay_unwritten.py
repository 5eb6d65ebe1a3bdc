"""An analysis that finds what the stored status says may stay in memory (engine.writes); any
verdict, window, error count, transition, comparison or an old stored analysis is written."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from ramp.api import RolloutStatus
from ramp.engine import may_stay_unwritten, routine_readings
from ramp.engine.observations import MetricSample
from ramp.engine.sequential import WindowCounts
from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds

REFRESH = timedelta(minutes=5)


def stays_unwritten(stored: RolloutStatus, desired: RolloutStatus, refresh: timedelta) -> bool:
    """The engine's rule on both statuses as the API server stores them."""
    return may_stay_unwritten(document(stored), document(desired), refresh)


def document(status: RolloutStatus) -> dict[str, object]:
    return status.model_dump(by_alias=True, exclude_none=True, mode="json")


def settled(error_limit: int | None = None, **metric: object) -> Run:
    """A rollout held at a Manual gate, analysed every 30 s, its announcements delivered."""
    extra = {} if error_limit is None else {"errorLimit": error_limit}
    spec = make_spec(
        [
            {"name": "canary", "percentage": 5, "approval": "Manual"},
            {"name": "all", "percentage": 100},
        ],
        analysis=analysis(errors_metric(**metric), **extra),
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.01})
    run.step(seconds(30), {"errors": 0.01})
    run.step(seconds(1), {"errors": 0.01})  # delivers the announcement; no analysis is due
    assert run.phase == "AwaitingApproval"
    assert not run.status.outbox
    assert run.status.last_analysis_at is not None
    return run


def test_new_readings_with_the_same_verdict_may_stay_unwritten() -> None:
    run = settled()
    stored = run.status
    run.step(seconds(30), {"errors": 0.02})
    assert run.status.last_analysis_at != stored.last_analysis_at
    assert run.status.metrics is not None and run.status.metrics[0].value == 0.02
    assert stays_unwritten(stored, run.status, REFRESH)


def test_the_stored_analysis_is_refreshed_at_the_latest_after_the_refresh_interval() -> None:
    run = settled()
    stored = run.status
    for _ in range(9):
        run.step(seconds(30), {"errors": 0.01})
        assert stays_unwritten(stored, run.status, REFRESH)
    run.step(seconds(30), {"errors": 0.01})  # 300 s after the stored analysis
    assert not stays_unwritten(stored, run.status, REFRESH)


def test_a_zero_refresh_writes_every_analysis() -> None:
    run = settled()
    stored = run.status
    run.step(seconds(30), {"errors": 0.01})
    assert not stays_unwritten(stored, run.status, timedelta(0))


def test_a_new_verdict_is_written() -> None:
    run = settled(warning={"above": 0.03})
    stored = run.status
    run.step(seconds(30), {"errors": 0.04})
    assert run.status.health == "Warning"
    assert not stays_unwritten(stored, run.status, REFRESH)


def test_a_critical_window_that_opens_is_written() -> None:
    """A crash must not restart a `for` window that already ran (I6 counts from its start)."""
    run = settled(critical={"above": 0.05, "for": "2m"})
    stored = run.status
    run.step(seconds(30), {"errors": 0.5})
    assert run.status.metrics is not None and run.status.metrics[0].critical_since is not None
    assert run.phase != "RolledBack"  # the window has not run out yet
    assert not stays_unwritten(stored, run.status, REFRESH)


def test_a_query_error_is_written() -> None:
    run = settled(error_limit=3)
    stored = run.status
    run.step(seconds(30), {"errors": "error"})
    assert not stays_unwritten(stored, run.status, REFRESH)


def test_a_breach_and_its_rollback_are_written() -> None:
    run = settled()
    stored = run.status
    run.step(seconds(30), {"errors": 0.5})
    assert run.phase == "RolledBack"
    assert not stays_unwritten(stored, run.status, REFRESH)


def test_a_promotion_is_written_even_when_its_analysis_found_the_same() -> None:
    spec = make_spec(
        [
            {"name": "canary", "percentage": 5, "duration": "1m"},
            {"name": "all", "percentage": 100},
        ],
        analysis=analysis(errors_metric()),
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.01})
    run.step(seconds(1), {"errors": 0.01})
    stored = run.status
    run.step(minutes(1), {"errors": 0.01})
    assert run.status.current_phase == "all"
    assert not stays_unwritten(stored, run.status, REFRESH)


def test_the_first_analysis_is_written() -> None:
    run = settled()
    first = RolloutStatus.model_validate(
        run.status.model_dump(by_alias=True, exclude_none=True) | {"lastAnalysisAt": None}
    )
    assert not stays_unwritten(first, run.status, REFRESH)


def test_a_compare_metrics_evidence_is_written_every_window() -> None:
    """The evidence carries from one window to the next: a crash must not count one twice."""
    compare = {
        "name": "failures",
        "compare": {"failures": 'jobs_failed_total{app="reports"}', "total": "jobs_total"},
    }
    spec = make_spec(
        [
            {"name": "canary", "percentage": 5, "approval": "Manual"},
            {"name": "all", "percentage": 100},
        ],
        analysis=analysis(compare),
    )
    run = Run(spec)
    for _ in range(3):  # start, publish 5 %, begin the comparison
        run.step(seconds(30), {"failures": MetricSample(until=run.now + seconds(30))})
    run.step(seconds(1), {})  # delivers the announcements; no analysis is due
    stored = run.status
    assert stored.metrics is not None and stored.metrics[0].compare is not None
    window = WindowCounts(5, 0, 95, 1)
    run.step(seconds(30), {"failures": MetricSample(counts=window, until=run.now + seconds(30))})
    assert run.status.metrics is not None and run.status.metrics[0].compare is not None
    assert run.status.metrics[0].compare.verdict == stored.metrics[0].compare.verdict
    assert not stays_unwritten(stored, run.status, REFRESH)


@given(
    readings=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=400),
            st.one_of(
                st.none(),
                st.floats(min_value=0, max_value=0.2),
                st.just(MetricSample(error="timeout")),
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_what_stays_unwritten_is_its_readings_over_the_stored_status(
    readings: list[tuple[int, float | MetricSample | None]],
) -> None:
    """The operator keeps only a routine status's readings (engine.routine_readings) and lays
    them over the stored status to decide on next: that must give back the status decided."""
    run = settled()
    stored = run.status
    for gap, value in readings:
        run.step(seconds(gap), {"errors": value})
        if not stays_unwritten(stored, run.status, REFRESH):
            stored = run.status  # written
            continue
        kept = routine_readings(document(run.status))
        assert RolloutStatus.model_validate({**document(stored), **kept}) == run.status
