"""I7/I8: an announcement is delivered at least once whatever crashes in between: it waits in
status.outbox until its webhook accepted it, is sent again after a SIGKILL under the same
X-Ramp-Delivery id, and its Event is recorded once."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.listener import Listener
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, event_reasons, rollout_manifest, status

OPERATOR_ARGS = ("--webhook-allow", "http://127.0.0.1:*")


@pytest.fixture
def webhook(webhook: Listener) -> Listener:
    webhook.answer(503, b"busy")
    return webhook


def test_webhook_down_across_a_kill_is_delivered_after_the_restart_once_per_id(
    cluster: Cluster, namespace: str, operator: OperatorProcess, webhook: Listener
) -> None:
    url = base64.b64encode(f"{webhook.url}/hook".encode()).decode()
    cluster.core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="hook"), data={"url": url}),
    )
    phases = [{"name": "canary", "percentage": 5, "duration": "1h"}]
    notifications = [{"secretRef": {"name": "hook", "key": "url"}, "on": ["Started"]}]
    apply(cluster, namespace, rollout_manifest("told", phases, notifications=notifications))
    eventually(lambda: webhook.count() >= 1, timeout=30, what="a first delivery attempt")

    def outbox() -> list[tuple[str, list[str]]]:
        return [(a["reason"], a["pending"]) for a in status(cluster, namespace, "told")["outbox"]]

    eventually(
        lambda: outbox() == [("Started", ["webhook-0"])],
        timeout=30,
        what="the Event confirmed and the refused webhook delivery still pending in the outbox",
    )

    operator.kill()
    webhook.answer(200, b"ok")
    operator.start()
    eventually(
        lambda: not status(cluster, namespace, "told").get("outbox"),
        timeout=30,
        what="the outbox to empty once the webhook accepted the delivery",
    )
    ids = {r.headers.get("X-Ramp-Delivery") for r in webhook.requests}
    assert len(ids) == 1 and None not in ids, ids
    assert event_reasons(cluster, namespace, "told").count("Started") == 1
    history = status(cluster, namespace, "told")["history"]
    assert [h["reason"] for h in history] == ["Started"]
