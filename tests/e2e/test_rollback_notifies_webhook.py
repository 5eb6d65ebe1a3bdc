"""A rollback is announced on the webhook named by a Secret, Slack-compatible, once, when the
operator's admin allows the webhook's address (`--webhook-allow`)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.analysis import analysed_rollout, error_rate
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.exporter import Exporter
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, wait_phase

OPERATOR_ARGS = ("--webhook-allow", "http://127.0.0.1:*")


class Webhook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hook.received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0KEN-s3cret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


def test_rollback_notifies_the_webhook_without_logging_its_url(
    cluster: Cluster,
    namespace: str,
    operator: OperatorProcess,
    exporter: Exporter,
    webhook: Webhook,
) -> None:
    cluster.core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "hook"},
            "data": {"url": base64.b64encode(webhook.url.encode()).decode()},
        },
    )
    manifest = analysed_rollout(
        cluster,
        "told",
        namespace,
        [error_rate()],
        notifications=[{"secretRef": {"name": "hook", "key": "url"}, "on": ["RolledBack"]}],
    )
    apply(cluster, namespace, manifest)
    wait_phase(cluster, namespace, "told", "Progressing", what="the rollout to start")
    exporter.set_error_rate(0.5)
    eventually(lambda: len(webhook.received) >= 1, timeout=30, what="the rollback notification")
    body = webhook.received[0]
    assert "told" in body["text"]
    assert "RolledBack" in body["text"]
    assert "error-rate" in body["text"]
    assert webhook.received == [body]
    assert "T0KEN-s3cret" not in operator.log.read_text()
