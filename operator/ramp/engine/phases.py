"""The sets of Rollout phases the rules speak of, each written once (`status.phase` takes the
values of `api.status.RolloutPhase`)."""

from __future__ import annotations

from ramp.api.status import RolloutPhase

ACTIVE: tuple[RolloutPhase, ...] = ("Pending", "Progressing", "Paused", "AwaitingApproval")
"""Phases in which the rollout moves on by itself."""

SOAKING: tuple[RolloutPhase, ...] = ("Progressing", "AwaitingApproval")
"""Phases whose soak clock runs (while the status's values are published)."""

HELD: tuple[RolloutPhase, ...] = ("Progressing", "Paused", "AwaitingApproval", "Disabled")
"""Phases of a started rollout that exposes users now or will again without a new start
(Disabled keeps its progress and returns to it)."""

ENDED: tuple[RolloutPhase, ...] = ("Completed", "RolledBack")
"""Phases a rollout ends in with its percentage kept where it ended."""

TERMINAL: tuple[RolloutPhase, ...] = ("Completed", "RolledBack", "Failed")
"""Phases the rollout leaves only when a person (or an edit) starts it again."""
