"""The bodies of webhook notifications, one per `spec.notifications[].format`, built from an
announcement alone: a delivery repeated after a crash sends the same bytes, with the same
PagerDuty dedup_key and the same CloudEvents id.

- Slack: Slack-compatible JSON, ``text`` for people and ``rollout`` for machines.
- PagerDuty: an Events API v2 alert event (https://developer.pagerduty.com, "Send an Alert
  Event"): ``routing_key``, ``event_action`` and ``dedup_key``; a trigger carries ``payload``
  with ``summary`` (at most 1024 characters), ``source``, ``severity`` and the optional
  fields. The routing key comes from the notification's Secret, never from here.
- CloudEvents: one event in the JSON format of CloudEvents 1.0, for structured content mode
  (media type application/cloudevents+json).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ramp.api.spec import NotificationFormat
from ramp.api.status import Announcement
from ramp.engine.incidents import SEVERITY, page_action
from ramp.engine.published import format_percentage

ICONS = {
    "RolledBack": ":rotating_light:",
    "Warning": ":warning:",
    "Completed": ":white_check_mark:",
}

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
"""Where a bare integration key sends its events (PagerDuty's US service region)."""

SUMMARY_LIMIT = 1024
"""PagerDuty: the longest payload.summary it accepts."""

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"

_ROUTING_KEY = re.compile(r"[A-Za-z0-9]{32}")


@dataclass(frozen=True)
class Rollout:
    """Which Rollout an announcement belongs to; ``uid`` tells a re-created one apart."""

    namespace: str
    name: str
    uid: str


@dataclass(frozen=True)
class Body:
    json: dict[str, Any]
    content_type: str = JSON_CONTENT_TYPE


def build_payload(
    *,
    namespace: str,
    name: str,
    transition: str,
    message: str,
    phase: str | None,
    percentage: float,
    metric: str | None,
) -> dict[str, Any]:
    """The Slack body: ``text`` for Slack-compatible receivers, ``rollout`` for machines."""
    text = f"{ICONS.get(transition, ':information_source:')} " + headline(
        namespace, name, transition, phase, percentage, metric
    )
    if message:
        text += f"\n{message}"
    return {
        "text": text,
        "rollout": {
            "namespace": namespace,
            "name": name,
            "transition": transition,
            "phase": phase,
            "percentage": percentage,
            "metric": metric,
            "message": message,
        },
    }


def headline(
    namespace: str,
    name: str,
    transition: str,
    phase: str | None,
    percentage: float,
    metric: str | None,
) -> str:
    where = f"phase {phase}" if phase else "no phase"
    text = (
        f"Rollout {namespace}/{name}: {transition} at {format_percentage(percentage)} % ({where})"
    )
    return f"{text}; metric {metric}" if metric else text


def render(
    format_: NotificationFormat, rollout: Rollout, announcement: Announcement, routing_key: str
) -> Body:
    """The body of one delivery of ``announcement`` in ``format_`` (``routing_key``: PagerDuty
    only)."""
    if format_ == "PagerDuty":
        return Body(pagerduty_event(rollout, announcement, routing_key))
    if format_ == "CloudEvents":
        return Body(cloud_event(rollout, announcement), CLOUDEVENTS_CONTENT_TYPE)
    return Body(
        build_payload(
            namespace=rollout.namespace,
            name=rollout.name,
            transition=announcement.reason,
            message=announcement.message,
            phase=announcement.step,
            percentage=announcement.percentage,
            metric=announcement.metric,
        )
    )


def dedup_key(rollout: Rollout, incident: int) -> str:
    """One per rollout and incident (at most 62 characters; PagerDuty allows 255)."""
    return f"ramp/{rollout.uid}/incident-{incident}"


def pagerduty_event(
    rollout: Rollout, announcement: Announcement, routing_key: str
) -> dict[str, Any]:
    """An Events API v2 event: a trigger for a breach's rollback or pause, a resolve for what
    ends the incident. ValueError for an announcement that pages nobody."""
    action = page_action(announcement)
    if action is None or announcement.incident is None:
        raise ValueError(f"announcement {announcement.seq} ({announcement.reason}) pages nobody")
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(rollout, announcement.incident),
    }
    if action == "resolve":
        return event
    summary = headline(
        rollout.namespace,
        rollout.name,
        announcement.reason,
        announcement.step,
        announcement.percentage,
        announcement.metric,
    )
    if announcement.message:
        summary += f": {announcement.message}"
    event["payload"] = {
        "summary": shorten(summary, SUMMARY_LIMIT),
        "source": f"{rollout.namespace}/rollouts/{rollout.name}",
        "severity": SEVERITY.get(announcement.reason, "error"),
        "timestamp": rfc3339(announcement),
        "component": announcement.metric or announcement.step or rollout.name,
        "group": rollout.namespace,
        "class": announcement.reason,
        "custom_details": details(announcement),
    }
    event["client"] = "Ramp"
    return event


def cloud_event(rollout: Rollout, announcement: Announcement) -> dict[str, Any]:
    """A CloudEvents 1.0 event in its JSON format. ``id`` is the announcement's, so a repeated
    delivery is the same event to a receiver that drops duplicates by source and id."""
    return {
        "specversion": "1.0",
        "id": f"{rollout.uid}/{announcement.seq}",
        "source": f"/apis/ramp.dev/v1alpha1/namespaces/{rollout.namespace}/rollouts/{rollout.name}",
        "type": f"dev.ramp.rollout.{announcement.reason.lower()}",
        "subject": announcement.step or rollout.name,
        "time": rfc3339(announcement),
        "datacontenttype": JSON_CONTENT_TYPE,
        "data": {
            "namespace": rollout.namespace,
            "name": rollout.name,
            "transition": announcement.reason,
            **details(announcement),
        },
    }


def details(announcement: Announcement) -> dict[str, Any]:
    return {
        "phase": announcement.step,
        "percentage": announcement.percentage,
        "metric": announcement.metric,
        "message": announcement.message,
        "seq": announcement.seq,
        "incident": announcement.incident,
    }


def rfc3339(announcement: Announcement) -> str:
    at = announcement.time
    if at.tzinfo is None:  # the API server's times are UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pagerduty_destination(value: str) -> tuple[str, str]:
    """(URL, routing key) from a PagerDuty notification's Secret value: the integration key
    alone (sent to PagerDuty's US service region), or a URL carrying it as its user part. The
    URL returned has no user part. ValueError saying what to write, never the value."""
    value = value.strip()
    if "://" not in value:
        if not _ROUTING_KEY.fullmatch(value):
            raise ValueError(
                "is not a PagerDuty Events API v2 integration key (32 letters and digits); "
                f"write the key, or a URL carrying it: https://KEY@{urlsplit(PAGERDUTY_EVENTS_URL).netloc}/v2/enqueue"
            )
        return PAGERDUTY_EVENTS_URL, value
    try:
        parts = urlsplit(value)
        key, host, port = parts.username or "", parts.hostname or "", parts.port
    except ValueError:
        key, host, port = "", "", None
    if not _ROUTING_KEY.fullmatch(key) or not host or parts.password is not None:
        raise ValueError(
            "is a URL without a PagerDuty integration key as its user part; write it as "
            "https://KEY@events.pagerduty.com/v2/enqueue (KEY: the 32 letters and digits of "
            "the Events API v2 integration), or the key alone"
        )
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host:
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), key
