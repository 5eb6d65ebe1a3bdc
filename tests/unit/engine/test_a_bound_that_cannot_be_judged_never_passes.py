"""A baseline bound added mid-rollout has no baseline to be judged against (baselines are
captured at 0 % before the first phase). It is never a pass: promotion waits, the metric and the
Healthy condition say why and what to do, and `ramp abort` + `ramp retry` start again from 0 %,
capturing the baseline before the first phase."""

from __future__ import annotations

from ramp.api import RolloutSpec
from ramp.engine.thresholds import NO_BASELINE
from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds

PHASES = [
    {"name": "canary", "percentage": 10, "duration": "5m"},
    {"name": "all", "percentage": 100},
]
LATENCY = {"name": "latency", "query": "p99", "critical": {"above": 100}}


def with_ratio_bound(spec: RolloutSpec) -> RolloutSpec:
    document = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    latency = document["analysis"]["metrics"][1]
    latency["baseline"] = {"capture": "AtStart"}
    latency["critical"] = {"aboveBaselineRatio": 2}
    return RolloutSpec.model_validate(document)


def test_a_ratio_bound_added_mid_rollout_holds_promotion_and_says_why() -> None:
    run = Run(make_spec(PHASES, analysis=analysis(errors_metric(), LATENCY)))
    run.generation = 1
    run.step(seconds(0), {"errors": 0.0, "latency": 1.0})
    assert run.status.current_phase == "canary"
    run.spec = with_ratio_bound(run.spec)  # the edit: no baseline was captured for it
    run.generation = 2
    for _ in range(30):  # 50x the normal latency, long past the soak
        run.step(seconds(30), {"errors": 0.0, "latency": 50.0})
    assert run.status.current_phase == "canary", "promoted on a bound nobody could judge"
    assert run.phase == "Progressing"
    latency = next(m for m in run.status.metrics or [] if m.name == "latency")
    assert latency.verdict == "Warning" and latency.message == NO_BASELINE
    assert "latency has no baseline" in (run.status.message or "")
    healthy = next(c for c in run.status.conditions or [] if c.type == "Healthy")
    assert healthy.status == "False" and "ramp retry" in healthy.message

    # abort, then retry: the baseline is captured at 0 % before the first phase starts again.
    run.act("abort")
    run.step(seconds(1), {"errors": 0.0, "latency": 1.0})
    assert run.published.percentage == 0
    run.act("retry")
    run.step(seconds(1), {"errors": 0.0, "latency": 1.0})
    assert run.phase == "Pending" and run.published.percentage == 0
    run.step(seconds(1), {"errors": 0.0, "latency": 1.0})
    assert run.status.baseline == {"latency": 1.0}
    assert run.status.current_phase == "canary" and run.published.percentage == 10
    run.step(minutes(1), {"errors": 0.0, "latency": 50.0})  # 50x the baseline
    run.step(minutes(1), {"errors": 0.0, "latency": 50.0})
    assert run.phase == "RolledBack"
