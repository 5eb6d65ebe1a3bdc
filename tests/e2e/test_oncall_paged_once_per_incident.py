"""On-call is paged once per breach: a rollback reaches a PagerDuty Events API v2 receiver as
one alert and a CloudEvents sink as one event, even when the operator is killed after the
receivers took the deliveries in and before it heard so (the outbox delivers again, under the
same dedup_key and the same CloudEvents id); `ramp retry` resolves the alert. Each receiver
checks every body against its service's published rules (tests/support/oncall.py)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.analysis import analysed_rollout, error_rate
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.exporter import Exporter
from tests.support.oncall import Receiver
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, events, ramp, status

OPERATOR_ARGS = ("--webhook-allow", "http://127.0.0.1:*")
KEY = "R0ut1ngKeyOfThirtyTwoCharacters0"


@pytest.fixture
def pagerduty() -> Iterator[Receiver]:
    receiver = Receiver("PagerDuty")
    yield receiver
    receiver.close()


@pytest.fixture
def sink() -> Iterator[Receiver]:
    receiver = Receiver("CloudEvents")
    yield receiver
    receiver.close()


def oncall_secret(cluster: Cluster, namespace: str, **values: str) -> None:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    cluster.core.create_namespaced_secret(namespace, {"metadata": {"name": "oncall"}, "data": data})


def started(
    cluster: Cluster, namespace: str, name: str, notifications: list[dict[str, Any]]
) -> None:
    manifest = analysed_rollout(
        cluster, name, namespace, [error_rate()], notifications=notifications
    )
    apply(cluster, namespace, manifest)
    eventually(
        lambda: status(cluster, namespace, name).get("phase") == "Progressing",
        timeout=30,
        what="the rollout to start",
    )


def actions(receiver: Receiver, action: str) -> list[dict[str, Any]]:
    return [b for b in receiver.bodies() if b and b.get("event_action") == action]


def of_type(receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    return [b for b in receiver.bodies() if b and b.get("type") == kind]


def outbox_empty(cluster: Cluster, namespace: str, name: str) -> bool:
    return not status(cluster, namespace, name).get("outbox")


def test_a_rollback_pages_once_across_a_kill_and_the_retry_resolves_it(
    cluster: Cluster,
    namespace: str,
    operator: OperatorProcess,
    exporter: Exporter,
    pagerduty: Receiver,
    sink: Receiver,
) -> None:
    oncall_secret(
        cluster,
        namespace,
        pagerduty=f"http://{KEY}@127.0.0.1:{pagerduty.server.server_port}/v2/enqueue",
        sink=f"{sink.url}/events",
    )
    started(
        cluster,
        namespace,
        "paged",
        [
            {"secretRef": {"name": "oncall", "key": "pagerduty"}, "format": "PagerDuty"},
            {
                "secretRef": {"name": "oncall", "key": "sink"},
                "format": "CloudEvents",
                "on": ["RolledBack", "Retried"],
            },
        ],
    )
    assert pagerduty.bodies() == [], "a start pages nobody"

    pagerduty.hold()
    sink.hold()
    exporter.set_error_rate(0.5)
    eventually(
        lambda: actions(pagerduty, "trigger") and of_type(sink, "dev.ramp.rollout.rolledback"),
        timeout=30,
        what="the rollback's trigger and CloudEvent taken in, their answers held",
    )
    operator.kill()  # before it heard that either delivery arrived
    pagerduty.release()
    sink.release()
    exporter.set_error_rate(0.0)
    operator.start()
    eventually(
        lambda: (
            len(actions(pagerduty, "trigger")) >= 2
            and len(of_type(sink, "dev.ramp.rollout.rolledback")) >= 2
            and outbox_empty(cluster, namespace, "paged")
        ),
        timeout=30,
        what="both deliveries made again after the restart, and confirmed",
    )
    assert len({t["dedup_key"] for t in actions(pagerduty, "trigger")}) == 1
    assert sum(pagerduty.opened.values()) == 1, "the repeated trigger opened a second alert"
    assert len(sink.events) == 1, "the repeated CloudEvent is not the same event"
    [key] = pagerduty.opened
    assert pagerduty.alerts[key] == "triggered"

    ramp(cluster, "retry", "paged", "-n", namespace)
    eventually(
        lambda: pagerduty.alerts[key] == "resolved" and of_type(sink, "dev.ramp.rollout.retried"),
        timeout=30,
        what="the retry to resolve the alert and reach the sink",
    )
    eventually(
        lambda: (
            status(cluster, namespace, "paged").get("phase") == "Completed"
            and outbox_empty(cluster, namespace, "paged")
        ),
        timeout=60,
        what="the retried rollout to complete, its announcements delivered",
    )
    assert sum(pagerduty.opened.values()) == 1
    assert [r.problems for r in pagerduty.rejected() + sink.rejected()] == []
    kinds = {b["type"] for b in sink.bodies()}
    assert kinds == {"dev.ramp.rollout.rolledback", "dev.ramp.rollout.retried"}


def test_a_trigger_that_could_not_be_sent_before_the_retry_is_never_sent(
    cluster: Cluster,
    namespace: str,
    operator: OperatorProcess,
    exporter: Exporter,
    pagerduty: Receiver,
    sink: Receiver,
) -> None:
    """Sent after the resolve, it would open an alert that nobody ever resolves. Other formats
    are told every transition, however late (I8)."""
    oncall_secret(
        cluster,
        namespace,
        pagerduty=f"http://{KEY}@{pagerduty.url.removeprefix('http://')}/v2/enqueue",
        sink=sink.url,
    )
    started(
        cluster,
        namespace,
        "late",
        [
            {"secretRef": {"name": "oncall", "key": "pagerduty"}, "format": "PagerDuty"},
            {
                "secretRef": {"name": "oncall", "key": "sink"},
                "format": "CloudEvents",
                "on": ["RolledBack", "Retried"],
            },
        ],
    )
    pagerduty.down = sink.down = True
    exporter.set_error_rate(0.5)

    def refused(action: str) -> bool:
        return any(b.get("event_action") == action for b in list(pagerduty.refused))

    eventually(
        lambda: refused("trigger"),
        timeout=30,
        what="the rollback's trigger refused by the unreachable service",
    )
    exporter.set_error_rate(0.0)
    ramp(cluster, "retry", "late", "-n", namespace)
    # The resolve waits behind the trigger in the service's queue: once it was tried, the
    # trigger's tries are over, and a later one would be sent after the resolve.
    eventually(lambda: refused("resolve"), timeout=60, what="the retry's resolve tried")
    pagerduty.down = sink.down = False
    eventually(
        lambda: outbox_empty(cluster, namespace, "late"),
        timeout=60,
        what="the outbox to empty",
    )
    assert actions(pagerduty, "trigger") == [], "a trigger arrived after its incident ended"
    assert len(actions(pagerduty, "resolve")) == 1
    assert sum(pagerduty.opened.values()) == 0
    told = sorted(event["type"] for event in sink.events.values())
    assert told == ["dev.ramp.rollout.retried", "dev.ramp.rollout.rolledback"], "each told once"


def test_a_secret_that_holds_no_pagerduty_key_is_refused_with_an_event(
    cluster: Cluster,
    namespace: str,
    operator: OperatorProcess,
    exporter: Exporter,
    pagerduty: Receiver,
) -> None:
    oncall_secret(cluster, namespace, pagerduty=f"{pagerduty.url}/v2/enqueue")
    started(
        cluster,
        namespace,
        "keyless",
        [{"secretRef": {"name": "oncall", "key": "pagerduty"}, "format": "PagerDuty"}],
    )
    exporter.set_error_rate(0.5)

    def refusals() -> list[str]:
        return [
            e.message or ""
            for e in events(cluster, namespace, "keyless")
            if e.reason == "NotificationRefused"
        ]

    eventually(refusals, timeout=30, what="a NotificationRefused Event")
    [message] = refusals()
    assert "spec.notifications[0] (format PagerDuty)" in message
    assert "integration key" in message
    assert pagerduty.url not in message, "the Secret's value is not repeated"
    assert pagerduty.bodies() == []
    eventually(
        lambda: outbox_empty(cluster, namespace, "keyless"),
        timeout=30,
        what="the refused delivery settled",
    )
