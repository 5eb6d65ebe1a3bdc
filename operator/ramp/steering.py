"""Carrying out `promote|pause|resume|abort|retry` on a cluster: the one code path the CLI and the
dashboard share, so a button does exactly what the command does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ramp.actions import Action, ActionPlan, plan_action
from ramp.api import GROUP, PLURAL, VERSION
from ramp.k8s.clients import Clients
from ramp.k8s.events import record_event


def steer(
    clients: Clients,
    rollout: dict[str, Any],
    action: Action,
    *,
    full: bool = False,
    component: str = "ramp-cli",
) -> ActionPlan:
    """Plan ``action`` on ``rollout`` as read, patch `status.control` when the plan asks for it,
    and record the Event; raises `ActionNotApplicable` (nothing written) when it cannot apply."""
    meta = rollout["metadata"]
    plan = plan_action(
        action,
        meta["name"],
        rollout.get("status") or {},
        datetime.now(UTC),
        full=full,
        spec_paused=bool((rollout.get("spec") or {}).get("paused")),
    )
    if plan.control_patch:
        clients.custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            meta["namespace"],
            PLURAL,
            meta["name"],
            {"status": {"control": plan.control_patch}},
            _content_type="application/merge-patch+json",
        )
    record_event(clients, rollout, "Normal", plan.reason, plan.message, component=component)
    return plan
