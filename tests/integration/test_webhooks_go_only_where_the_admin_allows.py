"""Without `ramp run --webhook-allow` the operator posts no webhook: a Rollout whose
spec.notifications names one gets a Warning Event saying which notification and which setting,
never the URL, its announcement is settled (the outbox empties), and the receiver sees nothing."""

from __future__ import annotations

import base64

from kubernetes import client

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.listener import Listener
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, events, rollout_manifest, status


def test_without_webhook_allow_a_notification_is_refused_by_an_event_not_sent(
    cluster: Cluster, namespace: str, operator: OperatorProcess, webhook: Listener
) -> None:
    url = f"{webhook.url}/hooks/T0KEN-s3cret"
    cluster.core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="hook"),
            data={"url": base64.b64encode(url.encode()).decode()},
        ),
    )
    phases = [{"name": "canary", "percentage": 5, "duration": "1h"}]
    notifications = [{"secretRef": {"name": "hook", "key": "url"}, "on": ["Started"]}]
    apply(cluster, namespace, rollout_manifest("told", phases, notifications=notifications))

    def refusal() -> str | None:
        found = [e for e in events(cluster, namespace, "told") if e.reason == "NotificationRefused"]
        return found[0].message if found else None

    message = eventually(refusal, timeout=30, what="a NotificationRefused Event")
    assert message.startswith(f"spec.notifications[0]: the webhook URL in Secret {namespace}/hook")
    assert "--webhook-allow" in message and "webhooks.allowedURLs" in message
    eventually(
        lambda: (
            status(cluster, namespace, "told").get("phase") == "Progressing"
            and not status(cluster, namespace, "told").get("outbox")
        ),
        timeout=30,
        what="the refused delivery settled and the outbox empty",
    )
    assert webhook.count() == 0
    log = operator.log.read_text()
    assert "--webhook-allow" in log
    for secret in ("T0KEN-s3cret", webhook.url):
        assert secret not in log and secret not in message
