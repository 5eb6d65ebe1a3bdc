"""Promotion windows and freezes hold promotion (and the start) only: soak, analysis and
rollback go on; `ramp promote --override-freeze` promotes anyway and history records it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ramp.engine import next_wakeup
from ramp.engine.actions import ActionNotApplicable, plan_action
from tests.support.engine import T0, Run, analysis, errors_metric, make_spec, minutes, seconds

# T0 is Sunday 2026-03-01 12:00 UTC, 13:00 in Berlin.
AFTERNOON = {"days": ["Sun"], "start": "13:30", "end": "13:45", "timeZone": "Europe/Berlin"}


def conditions(run: Run) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in run.status.conditions or []}


def test_a_soaked_phase_waits_for_its_window_and_promotes_when_it_opens() -> None:
    run = Run(make_spec(promotionWindows=[AFTERNOON]))
    run.step()
    assert run.phase == "Pending"  # the start is a promotion too
    assert run.status.message == (
        "waiting at 0 % to start: outside the promotion windows; next window Sun 13:30 "
        "Europe/Berlin; it starts by itself then"
    )
    assert next_wakeup(run.spec, run.status, run.now) == T0 + minutes(30)
    assert conditions(run)["Reconciling"] == ("True", "OutsideWindow")
    assert conditions(run)["Stalled"] == ("False", "OutsideWindow")
    assert conditions(run)["PromotionAllowed"] == ("False", "OutsideWindow")
    run.step(minutes(30))
    assert (run.phase, run.status.percentage) == ("Progressing", 5)
    run.step(minutes(10))
    assert run.status.current_phase == "half"
    run.step(minutes(10))  # 13:50 Berlin: the window closed during half's soak
    assert run.status.current_phase == "half"
    assert run.status.message == (
        "holding half at 50 %: outside the promotion windows; next window Sun 13:30 Europe/Berlin"
    )
    opens = datetime(2026, 3, 8, 12, 30, tzinfo=UTC)
    assert run.status.next_promotion_at == opens
    assert conditions(run)["Reconciling"] == ("True", "OutsideWindow")
    run.step(opens - run.now)
    assert run.phase == "Completed"


def test_a_freeze_holds_promotion_but_not_a_rollback() -> None:
    spec = make_spec(
        analysis=analysis(errors_metric()),
        freeze={"reason": "Black Friday", "until": "2026-03-02T00:00:00Z"},
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    assert run.phase == "Pending"
    assert "promotion frozen until 2026-03-02 00:00 UTC: Black Friday" in (run.status.message or "")
    # Lifted at midnight: it starts, soaks, and a breach inside a new freeze rolls it back.
    run.step(timedelta(hours=12), {"errors": 0.0})
    assert run.phase == "Progressing"
    run.spec = spec.model_copy(update={"freeze": spec.freeze.model_copy(update={"until": None})})  # type: ignore[union-attr]
    run.run_for(minutes(12), seconds(30), {"errors": 0.0})
    assert (run.status.current_phase, run.phase) == ("canary", "Progressing")
    assert "until the freeze is removed: Black Friday" in (run.status.message or "")
    assert run.status.next_promotion_at is None
    run.step(seconds(30), {"errors": 0.5})
    assert (run.phase, run.status.percentage) == ("RolledBack", 0)


def test_a_manual_promote_in_a_freeze_is_refused_unless_overridden_and_recorded() -> None:
    spec = make_spec(
        [
            {"name": "canary", "percentage": 5, "approval": "Manual"},
            {"name": "all", "percentage": 100},
        ],
        freeze={"reason": "release train"},
    )
    run = Run(spec.model_copy(update={"freeze": None}))
    run.step()
    run.step()
    assert run.phase == "AwaitingApproval"
    run.spec = spec
    run.step()
    assert conditions(run)["PromotionAllowed"] == ("False", "Frozen")
    status = run.status.model_dump(by_alias=True, exclude_none=True, mode="json")
    with pytest.raises(ActionNotApplicable, match=r"release train.*--override-freeze"):
        plan_action("promote", "rollout", status, run.now, by="alice")
    run.with_control(promote={"phaseIndex": 0, "phase": "canary", "by": "alice"})
    run.step()
    assert run.phase == "AwaitingApproval"  # a promote that reached the engine is dropped
    assert "PromoteDropped" in run.reasons()
    plan = plan_action("promote", "rollout", status, run.now, by="alice", override_freeze=True)
    run.with_control(**plan.control_patch)
    run.step()
    assert (run.status.current_phase, run.status.percentage) == ("all", 100)
    last: Any = next(h for h in reversed(run.status.history or []) if h.reason == "Promoted")
    assert "`ramp promote --override-freeze` by alice" in last.message
    assert "overriding: promotion frozen until the freeze is removed: release train" in last.message


def test_an_automatic_phase_held_by_a_window_promotes_on_override() -> None:
    run = Run(make_spec(promotionWindows=[{**AFTERNOON, "start": "13:00", "end": "13:05"}]))
    run.step()
    run.step(minutes(10))
    assert run.status.message is not None and "next window" in run.status.message
    status = run.status.model_dump(by_alias=True, exclude_none=True, mode="json")
    with pytest.raises(ActionNotApplicable):
        plan_action("promote", "rollout", status, run.now, by="bob")
    plan = plan_action("promote", "rollout", status, run.now, by="bob", override_freeze=True)
    run.with_control(**plan.control_patch)
    run.step()
    assert run.status.current_phase == "half"


def test_an_empty_window_list_on_the_rollout_lifts_windows() -> None:
    run = Run(make_spec(promotionWindows=[]))
    run.step()
    assert run.phase == "Progressing"
    assert "PromotionAllowed" not in conditions(run)
