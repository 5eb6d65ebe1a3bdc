"""I14: a breach's rollback or pause opens one on-call incident, later breaches while it is
open join it, and completion, `ramp retry` or `ramp resume` resolves it under the same number;
a PagerDuty notification gets only those announcements."""

from __future__ import annotations

from typing import Any

from ramp.api.status import Announcement
from ramp.engine.incidents import pages
from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds

NOTIFICATIONS = [
    {"secretRef": {"name": "pd", "key": "routingKey"}, "format": "PagerDuty"},
    {"secretRef": {"name": "slack", "key": "url"}},
]


def started(**spec: Any) -> Run:
    run = Run(make_spec(analysis=analysis(errors_metric()), notifications=NOTIFICATIONS, **spec))
    run.run_for(minutes(1), seconds(30), {"errors": 0.0})
    assert run.phase == "Progressing"
    return run


def announced(run: Run, reason: str) -> list[Announcement]:
    return [a for d in run.decisions for a in d.announced if a.reason == reason]


def test_a_rollback_opens_an_incident_and_a_retry_resolves_it() -> None:
    run = started()
    run.step(seconds(30), {"errors": 0.5})
    [rolled_back] = announced(run, "RolledBack")
    assert rolled_back.incident == rolled_back.seq
    assert run.status.incident == rolled_back.seq
    assert rolled_back.pending == ["event", "webhook-0", "webhook-1"]

    run.act("retry")
    run.step(seconds(30), {"errors": 0.0})
    [retried] = announced(run, "Retried")
    assert retried.incident == rolled_back.incident
    assert retried.pending == ["event", "webhook-0", "webhook-1"]
    assert run.status.incident is None
    assert pages(run.status, retried)
    assert not pages(run.status, rolled_back), "a late trigger would open a new incident"

    run.run_for(minutes(1), seconds(30), {"errors": 0.0})
    run.step(seconds(30), {"errors": 0.5})
    second = announced(run, "RolledBack")[-1]
    assert second.incident == second.seq != rolled_back.incident, "a new breach, a new incident"


def test_steps_down_after_a_rollback_to_the_previous_phase_join_the_open_incident() -> None:
    run = Run(
        make_spec(
            [
                {"name": "p10", "percentage": 10, "duration": "1m"},
                {"name": "p25", "percentage": 25, "duration": "1m"},
                {"name": "p50", "percentage": 50, "duration": "1h"},
                {"name": "all", "percentage": 100},
            ],
            analysis=analysis(errors_metric()),
            failurePolicy={"rollbackTo": "PreviousPhase"},
            notifications=NOTIFICATIONS,
        )
    )
    run.run_for(minutes(3), seconds(30), {"errors": 0.0})
    assert run.status.current_phase == "p50"
    run.run_for(minutes(2), seconds(30), {"errors": 0.5})
    steps = announced(run, "RolledBack")
    assert [a.percentage for a in steps] == [25, 10, 0]
    assert {a.incident for a in steps} == {steps[0].seq} == {run.status.incident}
    assert all(pages(run.status, a) for a in steps)


def test_a_breach_pause_opens_an_incident_and_the_resume_resolves_it() -> None:
    run = started(failurePolicy={"action": "Pause"})
    run.step(seconds(30), {"errors": 0.5})
    [paused] = announced(run, "Paused")
    assert paused.incident == paused.seq == run.status.incident
    run.act("resume")
    run.step(seconds(30), {"errors": 0.0})
    [resumed] = announced(run, "Resumed")
    assert resumed.incident == paused.incident
    assert run.status.incident is None


def test_what_no_breach_caused_pages_nobody() -> None:
    run = started()
    run.act("pause")
    run.step(seconds(30), {"errors": 0.0})
    run.act("resume")
    run.step(seconds(30), {"errors": 0.0})
    run.act("abort")
    run.step(seconds(30), {"errors": 0.0})
    for a in (a for d in run.decisions for a in d.announced):
        assert a.incident is None, a
        assert not pages(run.status, a)
        assert "webhook-0" not in a.pending, f"{a.reason} paged on-call"
        assert "webhook-1" in a.pending, f"{a.reason} not sent to Slack"
    assert {"Started", "Paused", "Resumed", "RolledBack"} <= set(run.reasons())
    assert run.status.incident is None
