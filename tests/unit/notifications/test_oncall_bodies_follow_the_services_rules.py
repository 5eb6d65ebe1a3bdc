"""Each notification format's body keeps its service's published rules (written down, with
their sources, in tests/support/oncall.py), and a repeated delivery is the same event: the
same PagerDuty dedup_key, the same CloudEvents id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ramp.api.status import Announcement
from ramp.engine.payloads import (
    CLOUDEVENTS_CONTENT_TYPE,
    PAGERDUTY_EVENTS_URL,
    Rollout,
    pagerduty_destination,
    render,
)
from tests.support.oncall import CLOUDEVENT, PAGERDUTY_EVENT, violations

KEY = "R0ut1ngKeyOfThirtyTwoCharacters0"
ROLLOUT = Rollout("reports", "async-reports", "6f1c7a52-0b7e-4c1e-9a53-2d6b1f0e8c11")
AT = datetime(2026, 3, 1, 12, 0, 5, 250000, tzinfo=UTC)


def announcement(reason: str, seq: int, incident: int | None, message: str = "") -> Announcement:
    return Announcement(
        seq=seq,
        time=AT,
        type="Warning",
        reason=reason,
        message=message or "error-rate 0.08 is above 0.05 (for 5m)",
        step="canary",
        percentage=0,
        metric="error-rate",
        incident=incident,
    )


def pagerduty(a: Announcement) -> dict[str, Any]:
    body = render("PagerDuty", ROLLOUT, a, KEY)
    assert body.content_type == "application/json"
    return body.json


def test_a_rollback_triggers_and_a_retry_resolves_the_same_pagerduty_alert() -> None:
    trigger = pagerduty(announcement("RolledBack", 7, 7, message="x" * 5000))
    resolve = pagerduty(announcement("Retried", 9, 7))
    assert violations(PAGERDUTY_EVENT, trigger) == []
    assert violations(PAGERDUTY_EVENT, resolve) == []
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"]
    assert trigger["routing_key"] == KEY
    payload = trigger["payload"]
    assert len(payload["summary"]) == 1024 and payload["summary"].endswith("…")
    assert payload["severity"] == "critical"
    assert payload["source"] == "reports/rollouts/async-reports"
    assert payload["timestamp"] == "2026-03-01T12:00:05.250000Z"


def test_a_breach_pause_is_an_error_and_joins_nothing_else() -> None:
    paused = pagerduty(announcement("Paused", 3, 3))
    assert violations(PAGERDUTY_EVENT, paused) == []
    assert paused["payload"]["severity"] == "error"
    other = pagerduty(announcement("RolledBack", 12, 12))
    assert other["dedup_key"] != paused["dedup_key"], "another incident, another alert"
    again = Rollout("reports", "async-reports", "uid-of-a-re-created-rollout")
    recreated = render("PagerDuty", again, announcement("Paused", 3, 3), KEY)
    assert recreated.json["dedup_key"] != paused["dedup_key"], "a re-created Rollout"


def test_a_repeated_delivery_is_the_same_event() -> None:
    a = announcement("RolledBack", 7, 7)
    for format_ in ("Slack", "PagerDuty", "CloudEvents"):
        assert render(format_, ROLLOUT, a, KEY) == render(format_, ROLLOUT, a, KEY)


def test_a_cloud_event_keeps_the_cloudevents_rules() -> None:
    body = render("CloudEvents", ROLLOUT, announcement("RolledBack", 7, 7), "")
    assert body.content_type == CLOUDEVENTS_CONTENT_TYPE
    event = body.json
    assert violations(CLOUDEVENT, event) == []
    assert event["type"] == "dev.ramp.rollout.rolledback"
    assert event["source"] == "/apis/ramp.dev/v1alpha1/namespaces/reports/rollouts/async-reports"
    assert event["time"] == "2026-03-01T12:00:05.250000Z"
    assert event["data"]["transition"] == "RolledBack"
    later = render("CloudEvents", ROLLOUT, announcement("Retried", 8, 7), "").json
    assert later["id"] != event["id"], "each announcement is its own event"


@pytest.mark.parametrize(
    ("schema", "body", "broken"),
    [
        (PAGERDUTY_EVENT, {"routing_key": KEY[:31], "event_action": "resolve"}, "routing_key"),
        (PAGERDUTY_EVENT, {"routing_key": KEY, "event_action": "resolve"}, "dedup_key"),
        (PAGERDUTY_EVENT, {"routing_key": KEY, "event_action": "trigger"}, "payload"),
        (
            PAGERDUTY_EVENT,
            {
                "routing_key": KEY,
                "event_action": "trigger",
                "payload": {"summary": "s" * 1025, "source": "x", "severity": "fatal"},
            },
            "payload/summary",
        ),
        (CLOUDEVENT, {"specversion": "1.0", "id": "1", "source": "/x"}, "type"),
        (
            CLOUDEVENT,
            {"specversion": "1.0", "id": "", "source": "/x", "type": "RolledBack"},
            "id",
        ),
        (
            CLOUDEVENT,
            {"specversion": "1.0", "id": "1", "source": "/x", "type": "a.b", "rampSeq": 1},
            "rampSeq",
        ),
        (
            CLOUDEVENT,
            {"specversion": "1.0", "id": "1", "source": "/x", "type": "a.b", "time": "noon"},
            "time",
        ),
    ],
)
def test_the_rules_reject_what_the_services_reject(
    schema: dict[str, Any], body: dict[str, Any], broken: str
) -> None:
    found = violations(schema, body)
    assert any(broken in problem for problem in found), found


def test_a_pagerduty_secret_holds_the_key_alone_or_a_url_carrying_it() -> None:
    assert pagerduty_destination(f"{KEY}\n") == (PAGERDUTY_EVENTS_URL, KEY)
    eu = f"https://{KEY}@events.eu.pagerduty.com/v2/enqueue"
    assert pagerduty_destination(eu) == ("https://events.eu.pagerduty.com/v2/enqueue", KEY)
    local = f"http://{KEY}@127.0.0.1:8080/v2/enqueue"
    assert pagerduty_destination(local) == ("http://127.0.0.1:8080/v2/enqueue", KEY)


@pytest.mark.parametrize(
    "value",
    [
        "s3cr3t-but-short",
        "https://events.pagerduty.com/v2/enqueue",
        f"https://{'k' * 32}:pw@events.pagerduty.com/v2/enqueue",
    ],
)
def test_a_secret_that_is_no_pagerduty_key_says_what_to_write_without_repeating_it(
    value: str,
) -> None:
    with pytest.raises(ValueError, match="integration key") as raised:
        pagerduty_destination(value)
    assert value not in str(raised.value) and "s3cr3t" not in str(raised.value)
