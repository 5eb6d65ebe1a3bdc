"""Webhook notifications: a Slack-compatible body naming what happened, retried with backoff on
failure, never blocking the caller, never logging the URL (it is a credential)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ramp.metrics.allowlist import AllowList
from ramp.runtime.notifications import FLAG, Notifier
from tests.support.listener import Listener
from tests.support.webhooks import rolled_back

SECRET_PATH = "/services/T0KEN-s3cret"
LOOPBACK = AllowList.parse(["http://127.0.0.1:*"], FLAG)


class Receiver:
    """A webhook endpoint on loopback that answers with the statuses it is told to, in order."""

    def __init__(self, statuses: list[int], delay: float = 0.0) -> None:
        self.statuses = statuses
        self.delay = delay
        self.bodies: list[dict[str, Any]] = []
        self.times: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.times.append(time.monotonic())
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}{SECRET_PATH}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    statuses, delay = getattr(request, "param", ([], 0.0))
    r = Receiver(list(statuses), delay)
    yield r
    r.close()


def test_body_names_rollout_transition_phase_percentage_and_metric() -> None:
    body = rolled_back()
    text = body["text"]
    for part in ("reports/async-reports", "RolledBack", "canary", "0 %", "error-rate"):
        assert part in text, (part, text)
    assert body["rollout"]["metric"] == "error-rate"
    assert body["rollout"]["percentage"] == 0


@pytest.mark.parametrize("receiver", [([500, 503], 0.0)], indirect=True)
def test_failures_are_retried_with_growing_backoff(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(allow=LOOPBACK, attempts=5, first_backoff=0.1)
    with caplog.at_level(logging.DEBUG):
        notifier.notify(receiver.url, rolled_back(), label="Secret reports/slack[url]")
        assert notifier.drain(10)
    assert len(receiver.bodies) == 3
    first_gap = receiver.times[1] - receiver.times[0]
    second_gap = receiver.times[2] - receiver.times[1]
    assert first_gap >= 0.1
    assert second_gap >= 0.2  # doubled
    assert "Secret reports/slack[url]" in caplog.text
    assert "T0KEN" not in caplog.text


@pytest.mark.parametrize("receiver", [([400], 0.0)], indirect=True)
def test_a_rejected_body_is_not_retried(receiver: Receiver) -> None:
    notifier = Notifier(allow=LOOPBACK, attempts=5, first_backoff=0.1)
    notifier.notify(receiver.url, rolled_back(), label="Secret x/y[url]")
    assert notifier.drain(10)
    assert len(receiver.bodies) == 1


def test_an_unreachable_webhook_is_logged_by_its_secret_never_its_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notifier = Notifier(allow=LOOPBACK, attempts=2, first_backoff=0.01, timeout=1)
    url = f"http://127.0.0.1:1{SECRET_PATH}"
    with caplog.at_level(logging.DEBUG):
        notifier.notify(url, rolled_back(), label="Secret reports/slack[url]")
        assert notifier.drain(10)
    assert "not delivered" in caplog.text
    assert "Secret reports/slack[url]" in caplog.text
    assert "T0KEN" not in caplog.text and "127.0.0.1:1" not in caplog.text


@pytest.mark.parametrize("receiver", [([], 1.0)], indirect=True)
def test_notify_returns_at_once_while_the_webhook_is_slow(receiver: Receiver) -> None:
    notifier = Notifier(allow=LOOPBACK, attempts=1)
    started = time.monotonic()
    for _ in range(3):
        notifier.notify(receiver.url, rolled_back(), label="Secret x/y[url]")
    queued_in = time.monotonic() - started
    assert queued_in < 0.5, f"notify blocked for {queued_in:.2f}s"
    assert notifier.drain(10)
    assert len(receiver.bodies) == 3


def test_a_cookie_one_receiver_sets_never_reaches_another(webhook: Listener) -> None:
    setter = Listener()
    try:
        setter.answer(200, b"ok")
        setter.headers = {"Set-Cookie": "tenant=a-s3cret; Path=/"}
        # One thread delivers to both, one after the other (cookies ignore the port).
        notifier = Notifier(allow=LOOPBACK, workers=1)
        notifier.notify(f"{setter.url}/a", rolled_back("a"), label="a")
        notifier.notify(f"{webhook.url}/b", rolled_back("b"), label="b")
        assert notifier.drain(5)
        assert setter.count() == 1
        assert webhook.count() == 1
        assert "Cookie" not in webhook.requests[0].headers, webhook.requests[0].headers
    finally:
        setter.close()
