"""On-call incidents: which announcements page, which resolve the page, and under what key.

A breach that rolls a rollout back or pauses it (failurePolicy) opens an incident, numbered by
the announcement that opened it and kept in status.incident; later breaches while it is open
(a step down after a rollback to the previous phase, a pause again after a resume) join it.
Completion, `ramp retry` and `ramp resume` resolve it. The number travels in every
announcement that opens, joins or resolves the incident, so a delivery repeated after a crash
names the same incident (PagerDuty's dedup_key) and never opens a second one (I14).
"""

from __future__ import annotations

from typing import Literal

from ramp.api.spec import Notification
from ramp.api.status import Announcement, RolloutStatus

PageAction = Literal["trigger", "resolve"]

OPENED_BY = frozenset({"RolledBack", "Paused"})
"""Transitions that open (or join) an incident when a breach caused them."""

RESOLVED_BY = frozenset({"Completed", "Retried", "Resumed"})
"""Transitions that resolve the incident open, if any."""

SEVERITY = {"RolledBack": "critical", "Paused": "error"}
"""PagerDuty severity of a breach's transition: a rollback took the feature away from users,
a pause holds it where the breach happened."""


def incident_of(status: RolloutStatus, reason: str, seq: int, *, breach: bool) -> int | None:
    """The incident an announcement numbered ``seq`` opens, joins or resolves; None when it has
    nothing to do with one."""
    if breach and reason in OPENED_BY:
        return status.incident if status.incident is not None else seq
    if reason in RESOLVED_BY:
        return status.incident
    return None


def after(status: RolloutStatus, announcement: Announcement) -> int | None:
    """status.incident once ``announcement`` is made."""
    if announcement.incident is None:
        return status.incident
    return None if announcement.reason in RESOLVED_BY else announcement.incident


def page_action(announcement: Announcement) -> PageAction | None:
    """What an on-call service does with ``announcement``: open (or add to) the incident,
    resolve it, or nothing."""
    if announcement.incident is None:
        return None
    return "resolve" if announcement.reason in RESOLVED_BY else "trigger"


def subscribes(target: Notification, reason: str, action: PageAction | None) -> bool:
    """Whether ``target`` gets an announcement: one it subscribes to (all when ``on`` is empty)
    and, for an on-call service, only one that opens or resolves an incident."""
    if target.on and reason not in target.on:
        return False
    return target.format != "PagerDuty" or action is not None


def pages(status: RolloutStatus, announcement: Announcement) -> bool:
    """Whether an on-call service may still be sent ``announcement``: one that opens or
    resolves an incident (a spec edit may have made a notification PagerDuty after the
    announcement was made), and not a trigger whose incident was resolved since (it waited in
    the outbox while the receiver was down): sent after the resolve, it would open a new
    incident nobody ever resolves."""
    action = page_action(announcement)
    if action == "trigger":
        return status.incident == announcement.incident
    return action is not None
