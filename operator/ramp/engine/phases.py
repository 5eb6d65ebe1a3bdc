"""The sets of Rollout phases the rules speak of, each written once (`status.phase` takes the
values of `api.status.RolloutPhase`)."""

from __future__ import annotations

from ramp.api.status import RolloutPhase

ACTIVE: tuple[RolloutPhase, ...] = ("Pending", "Progressing", "Paused", "AwaitingApproval")
"""Phases in which the rollout moves on by itself."""

UNDER_WAY: tuple[RolloutPhase, ...] = ("Progressing", "Paused", "AwaitingApproval")
"""Phases of a rollout on its way through its phases (not waiting to start, not ended)."""

UNSTARTED: tuple[RolloutPhase, ...] = ("Pending", "Paused")
"""Phases a rollout may wait in before its first phase started (no status.phaseStartedAt)."""

HALTED: tuple[RolloutPhase, ...] = ("Paused", "Disabled")
"""Phases a person holds the rollout in (spec.paused or `ramp pause`; spec.enabled false)."""

MOVING: tuple[RolloutPhase, ...] = ("Pending", "Progressing")
"""Phases in which the rollout moves on without a person: kstatus `Reconciling`. Paused and
AwaitingApproval wait for someone, so GitOps health checks do not wait on them."""

SOAKING: tuple[RolloutPhase, ...] = ("Progressing", "AwaitingApproval")
"""Phases whose soak clock runs (while the status's values are published)."""

HELD: tuple[RolloutPhase, ...] = ("Progressing", "Paused", "AwaitingApproval", "Disabled")
"""Phases of a started rollout that exposes users now or will again without a new start
(Disabled keeps its progress and returns to it)."""

ENDED: tuple[RolloutPhase, ...] = ("Completed", "RolledBack")
"""Phases a rollout ends in with its percentage kept where it ended."""

RETRYABLE: tuple[RolloutPhase, ...] = ("RolledBack", "Failed")
"""Phases a failure ended the rollout in; `ramp retry` starts it again."""

STALLED: tuple[RolloutPhase, ...] = ("RolledBack", "Failed", "Disabled")
"""Phases the rollout does not leave by itself: kstatus `Stalled`, which Flux reports as a
failed health check and `kstatus` as Failed."""

TERMINAL: tuple[RolloutPhase, ...] = ("Completed", "RolledBack", "Failed")
"""Phases the rollout leaves only when a person (or an edit) starts it again."""
