"""Manual gates, pause/resume, the master toggle, abort and retry."""

from __future__ import annotations

from tests.support.engine import T0, Run, make_spec, minutes

MANUAL = [
    {"name": "canary", "percentage": 5, "duration": "10m", "approval": "Manual"},
    {"name": "all", "percentage": 100},
]


def promote(run: Run, full: bool = False) -> None:
    run.with_control(promote={"phaseIndex": run.status.current_phase_index or 0, "full": full})


def test_manual_phase_waits_for_promote_after_its_soak() -> None:
    run = Run(make_spec(MANUAL))
    run.step()
    run.step(minutes(10))
    assert run.phase == "AwaitingApproval"
    run.step(minutes(60))
    assert run.phase == "AwaitingApproval"
    assert run.reasons().count("AwaitingApproval") == 1
    promote(run)
    run.step()
    assert run.status.current_phase == "all"
    assert run.status.control is None


def test_stale_promote_for_an_earlier_phase_is_dropped() -> None:
    run = Run(make_spec())
    run.step()
    run.with_control(promote={"phaseIndex": 1})
    run.step()
    assert run.status.current_phase == "canary"
    assert run.status.control is None


def test_promote_full_jumps_to_completed() -> None:
    run = Run(make_spec())
    run.step()
    index = run.status.current_phase_index or 0
    run.with_control(promote={"phaseIndex": index, "full": True, "skipSoak": True, "by": "a"})
    run.step()
    assert (run.phase, run.status.percentage) == ("Completed", 100)


def test_pause_freezes_the_soak_and_resume_gives_the_time_back() -> None:
    run = Run(make_spec())
    run.step()
    run.step(minutes(4))
    run.with_control(pause={"requestedAt": run.now.isoformat()})
    run.step()
    assert run.phase == "Paused" and run.status.percentage == 5
    run.step(minutes(60))
    assert run.phase == "Paused"
    run.act("resume")
    run.step()
    assert run.phase == "Progressing"
    assert run.status.next_promotion_at == run.now + minutes(6)


def test_spec_paused_holds_like_a_pause() -> None:
    run = Run(make_spec())
    run.step()
    run.spec = make_spec(paused=True)
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("Paused", 5)
    run.step(minutes(30))
    assert run.status.current_phase == "canary"
    run.spec = make_spec()
    run.step()
    assert run.status.next_promotion_at == run.now + minutes(9), "paused time does not count"


def test_master_toggle_publishes_zero_at_once_and_keeps_progress() -> None:
    run = Run(make_spec())
    run.step()
    run.step(minutes(10))
    assert run.status.current_phase == "half"
    run.spec = make_spec(enabled=False)
    run.step(minutes(1))
    assert (run.phase, run.published.enabled, run.published.percentage) == ("Disabled", False, 0)
    run.step(minutes(60))
    run.spec = make_spec()
    run.step()
    assert (run.phase, run.status.current_phase, run.status.percentage) == (
        "Progressing",
        "half",
        50,
    )
    assert run.status.next_promotion_at == run.now + minutes(9)


def test_abort_rolls_back_to_zero_and_retry_starts_from_the_first_phase() -> None:
    run = Run(make_spec())
    run.step()
    run.step(minutes(10))
    run.with_control(abort={"requestedAt": T0.isoformat()})
    run.step()
    assert (run.phase, run.published.percentage) == ("RolledBack", 0)
    run.with_control(retry={"requestedAt": T0.isoformat()})
    run.step()
    assert (run.phase, run.status.current_phase, run.status.percentage) == (
        "Progressing",
        "canary",
        5,
    )
    assert run.status.control is None
    assert run.reasons()[-2:] == ["RolledBack", "Retried"]


def test_spec_edit_keeps_the_phase_by_name() -> None:
    run = Run(make_spec())
    run.step()
    run.step(minutes(10))
    run.spec = make_spec(
        [
            {"name": "tiny", "percentage": 1, "duration": "1m"},
            {"name": "canary", "percentage": 5, "duration": "10m"},
            {"name": "half", "percentage": 40, "duration": "10m"},
            {"name": "all", "percentage": 100},
        ]
    )
    run.step()
    assert (run.status.current_phase, run.status.current_phase_index, run.status.percentage) == (
        "half",
        2,
        40,
    )


def test_spec_edit_removing_the_current_phase_never_exposes_more_users() -> None:
    run = Run(make_spec())
    run.step()
    run.step(minutes(10))  # half, 50 %
    run.spec = make_spec(
        [
            {"name": "a", "percentage": 10, "duration": "10m"},
            {"name": "b", "percentage": 60, "duration": "10m"},
            {"name": "c", "percentage": 100},
        ]
    )
    run.step()
    assert (run.status.current_phase, run.status.percentage) == ("a", 10)
