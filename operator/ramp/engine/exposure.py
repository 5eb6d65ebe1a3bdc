"""Who a rollout serves: a percentage of targeting keys and, ahead of it, the members of the
audiences the phase names (spec.flag.audiences). The two move together: every rule that sets
the percentage sets the audiences with it, through these functions, so that nobody (rollback to
zero, disable, abort, created paused) means no audience either (I1, I3, I6).

Exposure is ordered phase by phase: admission makes each phase's audiences include those of the
phase before (except at 100 %), so one exposure is at most another when its percentage is not
higher and its audiences are among the other's.
"""

from __future__ import annotations

from collections.abc import Sequence

from ramp.api.spec import Phase
from ramp.api.status import RolloutStatus
from ramp.engine.published import format_percentage


def audiences_of(phase: Phase) -> list[str]:
    """The audiences a phase serves ahead of its percentage (none at 100 %: everybody is)."""
    return list(phase.audiences or []) if phase.percentage < 100 else []


def serve_phase(status: RolloutStatus, phase: Phase) -> None:
    """``status`` serves ``phase``: its percentage and its audiences."""
    status.percentage = phase.percentage
    status.audiences = audiences_of(phase) or None


def serve_nobody(status: RolloutStatus) -> None:
    status.percentage = 0.0
    status.audiences = None


def serve_at_most(status: RolloutStatus, phase: Phase) -> None:
    """``phase``, but no more than ``status`` serves now (an edit while held: I4)."""
    status.percentage = min(phase.percentage, status.percentage or 0.0)
    now = set(status.audiences or [])
    status.audiences = [a for a in audiences_of(phase) if a in now] or None


def serve_recorded(status: RolloutStatus, percentage: float, audiences: Sequence[str]) -> None:
    """What a recorded transition served (a rollback's exposure, kept through a disable)."""
    status.percentage = percentage
    status.audiences = list(audiences) or None


def not_above(phase: Phase, percentage: float, audiences: Sequence[str]) -> bool:
    """Whether serving ``phase`` exposes nobody beyond ``percentage`` and ``audiences``."""
    return phase.percentage <= percentage and set(audiences_of(phase)) <= set(audiences)


def exposes_anyone(status: RolloutStatus) -> bool:
    """Whether the status serves somebody (the flag's master toggle aside)."""
    return (status.percentage or 0) > 0 or bool(status.audiences)


def describe_exposure(percentage: float, audiences: Sequence[str]) -> str:
    """``10 %``, ``0 % + internal, beta`` (messages and history)."""
    text = f"{format_percentage(percentage)} %"
    return f"{text} + {', '.join(audiences)}" if audiences and percentage < 100 else text


def phase_exposure(phase: Phase) -> str:
    """Who ``phase`` serves, in words: ``10 %``, ``0 % + internal``."""
    return describe_exposure(phase.percentage, audiences_of(phase))


def served_column(status: RolloutStatus) -> str:
    """status.served, the PERCENT column of `kubectl get`: ``10%``, ``10% +2``; ``0%`` while
    the flag is off (it then serves nobody)."""
    if status.enabled is False:
        return "0%"
    text = f"{format_percentage(status.percentage or 0.0)}%"
    count = len(status.audiences or [])
    return f"{text} +{count}" if count and (status.percentage or 0) < 100 else text
