"""The decision under construction: a working copy of the status, and how transitions and
announcements are written into it."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Literal

from ramp.api.spec import Phase, RolloutSpec, Transition
from ramp.api.status import Announcement, Control, HistoryEntry, RolloutPhase, RolloutStatus
from ramp.engine import incidents
from ramp.engine.exposure import exposes_anyone, not_above, serve_phase
from ramp.engine.phases import ACTIVE
from ramp.engine.windows import PromotionBlock, promotion_block

HISTORY_LIMIT = 20
"""Transitions kept in status.history; older ones are dropped first."""

OUTBOX_LIMIT = 50
"""Announcements kept undelivered in status.outbox; beyond it the oldest is dropped, so a
webhook that is down for days cannot grow the Rollout without bound."""


def analysing(status: RolloutStatus) -> bool:
    """Whether metrics are read: while the rollout moves, and after a rollback to a previous
    phase, where users are still exposed (I6)."""
    phase = status.phase or "Pending"
    return phase in ACTIVE or (phase == "RolledBack" and exposes_anyone(status))


def phase_index(spec: RolloutSpec, status: RolloutStatus) -> int:
    """The spec phase the status refers to. A spec edit keeps the rollout in the phase of the
    same name; when that name is gone, in the last phase that exposes nobody beyond what is
    published (its percentage not above, its audiences among those published)."""
    names = [p.name for p in spec.phases]
    if status.current_phase in names:
        return names.index(status.current_phase)
    if status.current_phase is None:
        return 0
    published = status.percentage or 0.0
    index = 0
    for i, phase in enumerate(spec.phases):
        if not_above(phase, published, status.audiences or []):
            index = i
    return index


class Draft:
    """The next status, built from the current one by the rules of one decision."""

    def __init__(self, spec: RolloutSpec, status: RolloutStatus, now: datetime) -> None:
        self.spec = spec
        self.now = now
        self.before = status
        # A deep copy through pydantic-core: several times faster than copy.deepcopy.
        self.next = type(status).model_validate(status.model_dump())
        self.index = min(phase_index(spec, status), len(spec.phases) - 1)

    @cached_property
    def block(self) -> PromotionBlock | None:
        """What holds promotion now: a freeze, or no open promotion window. The last phase
        completes whenever (completing exposes nobody more); the start is held too."""
        started = self.next.phase_started_at is not None
        if started and self.index >= len(self.spec.phases) - 1:
            return None
        return promotion_block(self.spec, self.now)

    waiting_for_window = False
    """Set when this decision holds a promotion (or the start) for ``block`` alone."""

    policy_problem: tuple[str, str] | None = None
    """Why the RolloutPolicy could not be used (reason, message), as the shell found it."""

    @property
    def phase(self) -> Phase:
        return self.spec.phases[self.index]

    def at(self, index: int) -> None:
        self.index = index
        self.next.current_phase_index = index
        self.next.current_phase = self.spec.phases[index].name

    def start_phase(self, index: int) -> None:
        """Enter phase ``index`` at its percentage and audiences; its soak counts once that is
        published."""
        self.at(index)
        serve_phase(self.next, self.phase)
        self.next.phase_started_at = self.now
        self.next.paused_at = None
        self.next.next_promotion_at = self.now + self.phase.soak

    def transition(
        self,
        phase: RolloutPhase,
        reason: Transition | str,
        message: str,
        *,
        warning: bool = False,
        metric: str | None = None,
        notify: bool = True,
        breach: bool = False,
    ) -> None:
        """Move to ``phase``: recorded once in status.history and announced once. ``breach``:
        a critical breach caused it (a rollback or pause that pages on-call)."""
        self.next.phase = phase
        self.next.message = message
        seq = self.announce(
            "Warning" if warning else "Normal",
            str(reason),
            message,
            metric=metric,
            notify=notify,
            breach=breach,
        )
        history = list(self.next.history or [])
        history.append(
            HistoryEntry(
                time=self.now,
                phase=phase,
                step=self.next.current_phase,
                percentage=self.next.percentage or 0.0,
                audiences=self.next.audiences,
                reason=str(reason),
                message=message,
                seq=seq,
            )
        )
        self.next.history = history[-HISTORY_LIMIT:]

    def announce(
        self,
        type_: Literal["Normal", "Warning"],
        reason: str,
        message: str,
        *,
        metric: str | None = None,
        notify: bool = True,
        breach: bool = False,
    ) -> int:
        """Put an announcement in the outbox: an Event, and the subscribed webhooks."""
        seq = (self.next.sequence or 0) + 1
        self.next.sequence = seq
        announcement = Announcement(
            seq=seq,
            time=self.now,
            type=type_,
            reason=reason,
            message=message,
            step=self.next.current_phase,
            percentage=self.next.percentage or 0.0,
            metric=metric,
            incident=incidents.incident_of(self.next, reason, seq, breach=breach),
        )
        action = incidents.page_action(announcement)
        announcement.pending = ["event"]
        if notify:
            announcement.pending += [
                f"webhook-{i}"
                for i, target in enumerate(self.spec.notifications or [])
                if incidents.subscribes(target, reason, action)
            ]
        self.next.incident = incidents.after(self.next, announcement)
        outbox = list(self.next.outbox or [])
        outbox.append(announcement)
        self.next.outbox = outbox[-OUTBOX_LIMIT:]
        return seq

    @property
    def control(self) -> Control:
        if self.next.control is None:
            self.next.control = Control()
        return self.next.control

    def tidy_control(self) -> None:
        control = self.next.control
        if control is not None and not control.model_dump(exclude_none=True):
            self.next.control = None
