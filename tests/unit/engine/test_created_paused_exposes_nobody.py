"""I3: a Rollout created paused publishes 0 % and starts nothing until it is unpaused.

Hole found by review: it published the first phase's percentage, then paused."""

from __future__ import annotations

from tests.support.engine import Run, make_spec, minutes


def test_created_with_spec_paused_publishes_zero_until_unpaused() -> None:
    run = Run(make_spec(paused=True))
    run.step()
    assert (run.phase, run.published.percentage, run.status.current_phase) == ("Paused", 0, None)
    run.step(minutes(30))
    assert (run.phase, run.published.percentage) == ("Paused", 0)
    assert run.reasons() == ["Paused"]
    run.spec = make_spec()
    run.step()
    assert (run.phase, run.status.current_phase, run.published.percentage) == (
        "Progressing",
        "canary",
        5,
    )
    assert run.status.next_promotion_at == run.now + minutes(10), "the whole soak is ahead"


def test_ramp_pause_while_pending_holds_at_zero() -> None:
    spec = make_spec(
        analysis={
            "interval": "30s",
            "prometheus": {"address": "http://prometheus:9090"},
            "metrics": [
                {
                    "name": "p99",
                    "query": "q",
                    "baseline": {"capture": "AtStart"},
                    "critical": {"aboveBaselineRatio": 2},
                }
            ],
        }
    )
    run = Run(spec)
    run.step(metrics={"p99": None})  # no baseline yet: Pending at 0 %
    assert run.phase == "Pending"
    run.with_control(pause={"requestedAt": "2026-03-01T12:00:00Z"})
    run.step(minutes(1), {"p99": 0.4})
    assert (run.phase, run.published.percentage) == ("Paused", 0)
    run.act("resume")
    run.step(minutes(1), {"p99": 0.4})
    assert (run.phase, run.published.percentage) == ("Progressing", 5)


def test_retry_waits_while_spec_paused() -> None:
    """Found by the model-based test: created paused, aborted, retried: the retry started the
    first phase while spec.paused was still true."""
    run = Run(make_spec(paused=True))
    run.step()
    run.with_control(abort={"requestedAt": "2026-03-01T12:00:00Z"})
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("RolledBack", 0)
    run.with_control(retry={"requestedAt": "2026-03-01T12:01:00Z"})
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("RolledBack", 0)
    assert "spec.paused" in (run.status.message or "")
    run.spec = make_spec()
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("Progressing", 5)
