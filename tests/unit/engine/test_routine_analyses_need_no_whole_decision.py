"""A routine analysis (engine.routine) gives exactly what the whole decision would give: the
same status but for its readings, the same effects, nothing announced. Anything else (a value
past a threshold, no data, an error, a soak that ends) is left to the whole decision."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine import Observations, PublishFlag, analysis_due, decide
from ramp.engine.observations import MetricSample
from ramp.engine.routine import Routine, routine_of, routine_readings_of
from tests.support.engine import T0, Run, analysis, delivered, make_spec, minutes, seconds
from tests.support.windows import freezes, promotion_windows


def document(status: RolloutStatus) -> dict[str, Any]:
    return status.model_dump(by_alias=True, exclude_none=True, mode="json")


def gated(**metric: Any) -> Run:
    """A rollout held at a Manual gate, analysed every 30 s, its announcements delivered."""
    spec = make_spec(
        [
            {"name": "canary", "percentage": 5, "approval": "Manual"},
            {"name": "all", "percentage": 100},
        ],
        analysis=analysis(
            {"name": "errors", "query": "sum(errors)", "critical": {"above": 0.05}, **metric}
        ),
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.01})
    run.step(seconds(30), {"errors": 0.01})
    run.step(seconds(1), {"errors": 0.01})
    assert run.phase == "AwaitingApproval" and not run.status.outbox
    return run


def routine(run: Run) -> Routine:
    found = routine_of(run.spec, run.status, run.now)
    assert found is not None
    return found


def test_a_value_within_thresholds_at_a_gate_is_routine() -> None:
    run = gated(warning={"above": 0.03})
    later = run.now + seconds(30)
    readings = routine_readings_of(routine(run), {"errors": MetricSample(value=0.02)}, later)
    assert readings is not None
    whole = decide(
        run.spec,
        run.status,
        later,
        Observations(metrics={"errors": MetricSample(value=0.02)}, published=run.config_map),
    )
    assert document(whole.status) == {**document(run.status), **readings}


def test_a_value_past_a_threshold_no_data_or_an_error_is_decided_in_full() -> None:
    run = gated(warning={"above": 0.03})
    later = run.now + seconds(30)
    for sample in (
        MetricSample(value=0.04),  # a warning
        MetricSample(value=0.5),  # a critical breach
        MetricSample(value=None),  # no data
        MetricSample(value=float("nan")),
        MetricSample(error="timeout"),
    ):
        assert routine_readings_of(routine(run), {"errors": sample}, later) is None, sample
    assert routine_readings_of(routine(run), {}, later) is None


def test_a_value_past_a_baseline_ratio_is_decided_in_full() -> None:
    spec = make_spec(
        [
            {"name": "canary", "percentage": 5, "approval": "Manual"},
            {"name": "all", "percentage": 100},
        ],
        analysis=analysis(
            {
                "name": "latency",
                "query": "q",
                "baseline": {},
                "critical": {"aboveBaselineRatio": 2},
            }
        ),
    )
    run = Run(spec)
    for _ in range(4):
        run.step(seconds(30), {"latency": 0.1})
    assert run.phase == "AwaitingApproval", run.status.message
    run.step(seconds(1), {"latency": 0.1})
    later = run.now + seconds(30)
    assert routine_readings_of(routine(run), {"latency": MetricSample(value=0.15)}, later)
    assert routine_readings_of(routine(run), {"latency": MetricSample(value=0.25)}, later) is None


def test_the_end_of_a_soak_is_decided_in_full() -> None:
    spec = make_spec(
        [{"name": "canary", "percentage": 5, "duration": "2m"}, {"name": "all", "percentage": 100}],
        analysis=analysis({"name": "errors", "query": "q", "critical": {"above": 0.05}}),
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.01})
    run.step(seconds(30), {"errors": 0.01})
    run.step(seconds(1), {"errors": 0.01})
    assert run.phase == "Progressing"
    found = routine(run)
    assert found.until == run.status.next_promotion_at
    ok = {"errors": MetricSample(value=0.01)}
    assert routine_readings_of(found, ok, run.now + seconds(30)) is not None
    assert found.until is not None
    assert routine_readings_of(found, ok, found.until) is None
    assert found.next_at(found.until - seconds(1)) == found.until


def test_nothing_is_routine_while_a_window_is_open_or_a_person_asked() -> None:
    run = gated(critical={"above": 0.05, "for": "2m"})
    run.step(seconds(30), {"errors": 0.5})  # the window opens
    assert routine_of(run.spec, run.status, run.now) is None
    run = gated()
    run.act("pause")
    assert routine_of(run.spec, run.status, run.now) is None


def test_no_data_under_ignore_is_routine_while_there_is_none() -> None:
    run = gated(onNoData="Ignore")
    run.step(seconds(30), {"errors": None})
    run.step(seconds(1), {})
    found = routine(run)
    later = run.now + seconds(30)
    readings = routine_readings_of(found, {"errors": MetricSample(value=None)}, later)
    assert readings is not None and "value" not in readings["metrics"][0]
    nan = routine_readings_of(found, {"errors": MetricSample(value=float("nan"))}, later)
    assert nan == readings, "NaN is no data, as the whole decision reads it"
    # Data again changes the message: decided (and written) in full.
    assert routine_readings_of(found, {"errors": MetricSample(value=0.01)}, later) is None


def test_a_compare_metric_is_never_routine() -> None:
    spec = make_spec(
        [
            {"name": "canary", "percentage": 5, "approval": "Manual"},
            {"name": "all", "percentage": 100},
        ],
        analysis=analysis(
            {"name": "failures", "compare": {"failures": "f", "total": "t"}},
        ),
    )
    run = Run(spec)
    for _ in range(3):
        run.step(seconds(30), {"failures": MetricSample(until=run.now + seconds(30))})
    run.step(seconds(1), {})
    assert routine_of(run.spec, run.status, run.now) is None


@st.composite
def specs(draw: st.DrawFn) -> RolloutSpec:
    """Thresholds close to the values drawn, so that analyses cross them now and then."""
    count = draw(st.integers(1, 3))
    cents = sorted(draw(st.lists(st.integers(1, 10000), min_size=count, max_size=count)))
    phases: list[dict[str, Any]] = []
    for i, c in enumerate(cents):
        phase: dict[str, Any] = {
            "name": f"p{i}",
            "percentage": c / 100,
            "duration": draw(st.sampled_from(["0s", "45s", "3m"])),
            "approval": draw(st.sampled_from(["Automatic", "Manual"])),
        }
        if draw(st.booleans()):  # a tighter bound in this phase
            phase["metrics"] = [{"name": "errors", "critical": {"above": 0.12, "for": "1m"}}]
        phases.append(phase)
    errors: dict[str, Any] = {
        "name": "errors",
        "query": "e",
        "critical": {
            "above": draw(st.sampled_from([0.14, 0.18])),
            "for": draw(st.sampled_from(["0s", "1m", "1m"])),
        },
        "onNoData": draw(st.sampled_from(["Pause", "Fail", "Ignore"])),
    }
    if draw(st.booleans()):
        errors["warning"] = {"above": 0.1, "for": draw(st.sampled_from(["0s", "1m"]))}
    slow: dict[str, Any] = {"name": "slow", "query": "s", "warning": {"above": 0.15}}
    if draw(st.booleans()):
        slow = {"name": "slow", "query": "s", "baseline": {}}
        slow["critical"] = {"aboveBaselineRatio": 1.5, "for": "1m"}
    return RolloutSpec.model_validate(
        {
            "flag": {"key": "f", "configMap": "f"},
            "phases": phases,
            "analysis": {
                "interval": draw(st.sampled_from(["10s", "30s"])),
                "prometheus": {"address": "http://p:9090"},
                "errorLimit": draw(st.integers(1, 3)),
                "metrics": [errors, slow],
            },
            "failurePolicy": {"action": draw(st.sampled_from(["Rollback", "Pause"]))},
            # Windows opening and closing, and freezes ending, while analyses are routine.
            **{
                field: value
                for field, value in (
                    ("promotionWindows", draw(promotion_windows())),
                    ("freeze", draw(freezes(T0))),
                )
                if value is not None
            },
        }
    )


def values(sparse: bool) -> st.SearchStrategy[float | str | None]:
    """Mostly values below every threshold, often near them; now and then no data, an error or
    anything. A sparse metric has no data about half of the time."""
    return st.integers(0, 29).flatmap(
        lambda n: (
            st.none()
            if n == 0 or (sparse and n >= 15)
            else {1: st.just("error"), 2: st.floats(0, 1)}.get(
                n, st.floats(0.1, 0.2) if n < 9 else st.floats(0, 0.1)
            )
        )
    )


actions = st.sampled_from(["none"] * 20 + ["pause", "resume", "promote"])


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[int, Any, Any, str]]:
    errors, slow = values(draw(st.booleans())), values(False)
    step = st.tuples(st.integers(0, 120), errors, slow, actions)
    return draw(st.lists(step, min_size=1, max_size=50))


def sample(v: float | str | None) -> MetricSample:
    if v == "error":
        return MetricSample(error="down")
    assert not isinstance(v, str)
    return MetricSample(value=v)


def with_action(status: RolloutStatus, action: str, now: datetime) -> RolloutStatus:
    data = document(status)
    control = data.setdefault("control", {})
    if action == "pause":
        control["pause"] = {"requestedAt": now.isoformat()}
    elif action == "resume" and control.pop("pause", None) is not None:
        control["resume"] = {"requestedAt": now.isoformat()}
    elif action == "promote":
        control["promote"] = {"phaseIndex": status.current_phase_index or 0}
    return RolloutStatus.model_validate(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), script=steps())
def test_a_routine_analysis_finds_what_the_whole_decision_finds(
    spec: RolloutSpec, script: list[tuple[int, Any, Any, str]]
) -> None:
    """Driven the way the operator drives it: after every whole decision that published
    nothing, the next analyses go the routine way while they are routine; each is checked
    against the whole decision on the same inputs, and the run goes on from its result."""
    status = RolloutStatus()
    now = T0
    served: PublishFlag | None = None
    routine: Routine | None = None
    effects: tuple[Any, ...] = ()
    for delay, errors, slow, action in script:
        now += timedelta(seconds=delay)
        if action != "none":
            status = with_action(status, action, now)
            routine = None  # a new version of the Rollout: decided in full
        due = analysis_due(spec, status, now)
        samples = {"errors": sample(errors), "slow": sample(slow)} if due else None
        if routine is not None and samples is not None:
            readings = routine_readings_of(routine, samples, now)
            if readings is not None:
                seen = Observations(metrics=samples, published=served)
                whole = decide(spec, status, now, seen)
                assert document(whole.status) == {**document(status), **readings}
                assert whole.effects == effects
                assert whole.announced == ()
                status = whole.status
                continue
        seen = Observations(metrics=samples, published=served, delivered=delivered(status))
        decision = decide(spec, status, now, seen)
        flag = next(e for e in decision.effects if isinstance(e, PublishFlag))
        published = flag != served
        if published:  # the shell publishes, then decides again on what is served
            served = flag
            seen = Observations(published=served, delivered=delivered(decision.status))
            decision = decide(spec, decision.status, now, seen)
        status, effects = decision.status, decision.effects
        told = bool(decision.announced) or bool(status.outbox)
        routine = None if published or told else routine_of(spec, status, now)


def test_most_analyses_of_a_settled_rollout_are_routine() -> None:
    """Not a vacuous rule: at a gate with healthy values, every analysis is routine."""
    run = gated(warning={"above": 0.03})
    found = routine(run)
    at = run.now
    for i in range(20):
        at = found.next_at(at)
        value = 0.01 + i / 1000
        assert routine_readings_of(found, {"errors": MetricSample(value=value)}, at) is not None
    assert at - run.now <= minutes(10)
