"""Webhook notifications of rollout transitions: Slack-compatible JSON, retried with backoff.

Delivery happens on one background thread so a slow or dead webhook never holds up a reconcile.
Each delivery carries a stable id in the `X-Ramp-Delivery` header: an announcement is delivered
at least once (it waits in status.outbox until confirmed), and a receiver drops duplicates by it.
Webhook URLs carry credentials (a Slack hook URL is its own password), so they are never logged:
log lines name the Secret the URL came from instead.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from ramp.engine.published import format_percentage

logger = logging.getLogger("ramp.notifications")

THREAD_NAME = "ramp-notifier"


class _HideWebhookTraffic(logging.Filter):
    """Drops urllib3's debug lines from the delivery thread: they print the webhook's path."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != THREAD_NAME


_HIDE = _HideWebhookTraffic()

ICONS = {
    "RolledBack": ":rotating_light:",
    "Warning": ":warning:",
    "Completed": ":white_check_mark:",
}


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
    """The JSON body: ``text`` for Slack-compatible receivers, ``rollout`` for machines."""
    where = f"phase {phase}" if phase else "no phase"
    text = (
        f"{ICONS.get(transition, ':information_source:')} Rollout {namespace}/{name}: "
        f"{transition} at {format_percentage(percentage)} % ({where})"
    )
    if metric:
        text += f"; metric {metric}"
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


DELIVERY_HEADER = "X-Ramp-Delivery"

Done = Callable[[bool], None]
"""Told once per delivery, from the delivery thread: True when the webhook accepted it."""


@dataclass(frozen=True)
class _Delivery:
    url: str
    payload: dict[str, Any]
    label: str
    delivery_id: str | None = None
    on_done: Done | None = None


class Notifier:
    """Posts notifications in the background, each tried up to ``attempts`` times."""

    def __init__(
        self, *, attempts: int = 5, timeout: float = 5.0, first_backoff: float = 0.5
    ) -> None:
        self.attempts = attempts
        self.timeout = timeout
        self.first_backoff = first_backoff
        self._queue: queue.Queue[_Delivery] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._session = requests.Session()
        for name in ("urllib3.connectionpool", "urllib3.util.retry"):
            noisy = logging.getLogger(name)
            if _HIDE not in noisy.filters:
                noisy.addFilter(_HIDE)

    def notify(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        label: str,
        delivery_id: str | None = None,
        on_done: Done | None = None,
    ) -> None:
        """Queue one delivery and return at once. ``label`` names the URL's source for logs;
        ``delivery_id`` goes in the X-Ramp-Delivery header; ``on_done`` hears the outcome."""
        self._queue.put(_Delivery(url, payload, label, delivery_id, on_done))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._deliver_forever, name=THREAD_NAME, daemon=True
                )
                self._thread.start()

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for queued deliveries; True when all were handled."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                logger.warning("%d notifications still queued at shutdown", self._queue.qsize())
                return False
            time.sleep(0.05)
        return True

    def _deliver_forever(self) -> None:
        while True:
            delivery = self._queue.get()
            delivered = False
            try:
                delivered = self._deliver(delivery)
            finally:
                self._queue.task_done()
                if delivery.on_done is not None:
                    try:
                        delivery.on_done(delivered)
                    except Exception:  # the thread must outlive a broken callback
                        logger.exception("delivery callback failed")

    def _deliver(self, delivery: _Delivery) -> bool:
        backoff = self.first_backoff
        problem = ""
        for attempt in range(1, self.attempts + 1):
            try:
                headers = {DELIVERY_HEADER: delivery.delivery_id} if delivery.delivery_id else {}
                response = self._session.post(
                    delivery.url, json=delivery.payload, timeout=self.timeout, headers=headers
                )
            except requests.RequestException as e:
                # The exception text contains the URL; only its type is safe to log.
                problem = type(e).__name__
            else:
                if response.status_code < 300:
                    logger.info("notified %s (webhook from %s)", _what(delivery), delivery.label)
                    return True
                problem = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the receiver rejects this body; retrying will not change its mind
            if attempt < self.attempts:
                time.sleep(backoff)
                backoff *= 2
        logger.error(
            "notification %s not delivered to the webhook from %s: %s",
            _what(delivery),
            delivery.label,
            problem,
        )
        return False


def _what(delivery: _Delivery) -> str:
    rollout = delivery.payload.get("rollout", {})
    return f"{rollout.get('transition')} of {rollout.get('namespace')}/{rollout.get('name')}"
