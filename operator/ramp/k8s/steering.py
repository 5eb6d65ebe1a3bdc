"""Carrying out `promote|pause|resume|abort|retry` on a cluster: the one code path the CLI and the
dashboard share, so a button does exactly what the command does."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from ramp.api import GROUP, PLURAL, VERSION
from ramp.engine.actions import Action, ActionPlan, plan_action
from ramp.k8s.clients import Clients
from ramp.k8s.events import record_event


def steer(
    clients: Clients,
    rollout: dict[str, Any],
    action: Action,
    *,
    full: bool = False,
    skip_soak: bool = False,
    override_freeze: bool = False,
    component: str = "ramp-cli",
) -> ActionPlan:
    """Plan ``action`` on ``rollout`` as read, patch `status.control` when the plan asks for it,
    and record the Event; raises `ActionNotApplicable` (nothing written) when it cannot apply.
    A promote names who asked (`requester`), so a skipped soak is recorded with their name."""
    meta = rollout["metadata"]
    plan = plan_action(
        action,
        meta["name"],
        rollout.get("status") or {},
        datetime.now(UTC),
        full=full,
        skip_soak=skip_soak,
        by=requester(clients) if action == "promote" else None,
        spec_paused=bool((rollout.get("spec") or {}).get("paused")),
        override_freeze=override_freeze,
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


def requester(clients: Clients) -> str:
    """Who is asking: the user the API server authenticates these credentials as (what
    `kubectl auth whoami` prints), else the local login name."""
    try:
        review = client.AuthenticationV1Api(clients.api).create_self_subject_review(
            client.V1SelfSubjectReview()
        )
        user = review.status.user_info if review.status is not None else None
        name = user.username if user is not None else None
        if name:
            return str(name)
    except client.ApiException:
        pass  # an API server before 1.28, or RBAC without selfsubjectreviews: say who is local
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "an unnamed user"
