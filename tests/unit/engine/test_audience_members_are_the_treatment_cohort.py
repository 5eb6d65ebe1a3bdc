"""`compare` counts audience members as the treatment: apps label their units with the variant
ramp.flags gives them (members get "on" whatever the percentage), and at a phase that serves
only audiences the engine judges that cohort like any other: a regression among the members
rolls back to nobody, and members sending no units at all is no data, not a pass."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ramp.engine.observations import MetricSample
from ramp.engine.sequential import WindowCounts
from ramp.flags import FlagFile
from ramp.k8s.flagd import render_flags_json
from tests.support.engine import Run, analysis, make_spec

TEN_SECONDS = timedelta(seconds=10)
METRIC = {
    "name": "failures-vs-control",
    "compare": {"failures": "jobs_failed_total", "total": "jobs_total", "minEvents": 50},
}


def rollout() -> Run:
    flag = {
        "key": "pdf",
        "configMap": "pdf-flags",
        "audiences": [{"name": "internal", "attribute": "email", "endsWith": ["@example.com"]}],
    }
    phases = [
        {"name": "internal", "audiences": ["internal"], "percentage": 0, "duration": "30m"},
        {"name": "canary", "audiences": ["internal"], "percentage": 5, "duration": "30m"},
        {"name": "all", "percentage": 100},
    ]
    return Run(make_spec(phases, flag=flag, analysis=analysis(METRIC, interval="10s")))


def step(run: Run, members: float, treatment_rate: float) -> None:
    """200 units/s, ``members`` of them from the audience (labelled "on" by the app)."""
    before = next((m.compare for m in run.status.metrics or [] if m.compare is not None), None)
    run.now += TEN_SECONDS
    if before is None:
        sample = MetricSample(until=run.now)
    else:
        units = 200 * (run.now - before.observed_until).total_seconds()
        sample = MetricSample(
            counts=WindowCounts(
                units * members,
                units * members * treatment_rate,
                units * (1 - members),
                units * (1 - members) * 0.01,
            ),
            until=run.now,
        )
    run.step(metrics={"failures-vs-control": sample})


def test_members_are_labelled_as_the_treatment(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    audiences = (("internal", "email", "endsWith", ("@example.com",)),)
    path.write_text(render_flags_json("pdf", True, 0, audiences=audiences), "utf-8")
    flags = FlagFile(path)
    member = flags.labels("pdf", "u1", {"email": "ana@example.com"})
    other = flags.labels("pdf", "u2", {"email": "bo@gmail.com"})
    assert member["feature_flag_result_variant"] == "on"
    assert other["feature_flag_result_variant"] == "off"


def test_a_regression_among_the_members_at_0_percent_rolls_back_to_nobody() -> None:
    run = rollout()
    for _ in range(120):
        step(run, members=0.05, treatment_rate=0.03)
        if run.phase == "RolledBack":
            break
    assert run.phase == "RolledBack", run.status.message
    assert run.status.rolled_back_from == "internal"
    assert (run.published.percentage, run.published.audiences) == (0, ())


def test_members_sending_no_units_is_no_data_not_a_pass() -> None:
    run = rollout()
    for _ in range(20):
        step(run, members=0.0, treatment_rate=0.0)
    metric = next(m for m in run.status.metrics or [] if m.name == "failures-vs-control")
    assert metric.verdict == "NoData", metric.message
    assert run.phase == "Paused"
