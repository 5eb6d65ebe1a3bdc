"""Webhook notifications of rollout transitions, retried with backoff (their bodies, one per
format, are built by ramp.engine.payloads).

Where: a Rollout's author names the URL (in a Secret), the operator's admin names where the
operator may send (`ramp run --webhook-allow`, the same patterns as `--prometheus-allow`). A URL
no pattern allows gets no request; without any pattern no webhook is sent at all, as in Argo
Rollouts, where only the admin configures notification services. Redirects are never followed,
so the allow-list holds for every request actually sent.

How: in the background, one queue per destination URL, so a slow or dead webhook holds up
neither a reconcile nor another webhook's deliveries; at most ``workers`` destinations are
served at once, taking turns delivery by delivery when more are waiting. Each delivery carries a
stable id in the `X-Ramp-Delivery` header: an announcement is delivered at least once (it waits
in status.outbox until confirmed), and a receiver drops duplicates by it.

Webhook URLs carry credentials (a Slack hook URL is its own password), so they are never logged:
log lines name the Secret the URL came from instead.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests

from ramp.metrics.allowlist import AllowList, NoRedirects
from ramp.runtime.settings import OperatorSettings

logger = logging.getLogger("ramp.notifications")

FLAG = "--webhook-allow"
CHART_VALUE = "webhooks.allowedURLs"

THREAD_NAME = "ramp-notifier"
"""Prefix of the delivery threads' names."""


class _HideWebhookTraffic(logging.Filter):
    """Drops urllib3's debug lines from the delivery threads: they print the webhook's path."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.threadName or not record.threadName.startswith(THREAD_NAME)


_HIDE = _HideWebhookTraffic()

DELIVERY_HEADER = "X-Ramp-Delivery"

Done = Callable[[bool], None]
"""Told once per delivery, from a delivery thread: True when the webhook accepted it."""


@dataclass(frozen=True)
class _Delivery:
    url: str
    payload: dict[str, Any]
    label: str
    delivery_id: str | None = None
    on_done: Done | None = None
    content_type: str = "application/json"
    what: str = ""
    """What it tells, for logs (never the URL)."""


@dataclass
class _Destination:
    """The deliveries waiting for one URL, in the order they were queued."""

    waiting: deque[_Delivery] = field(default_factory=deque)
    served: bool = False
    """A thread is delivering to it, or it is in the line of destinations waiting for one."""


class Notifier:
    """Posts notifications in the background, each tried up to ``attempts`` times, only to
    URLs ``allow`` allows (none when it is empty)."""

    def __init__(
        self,
        *,
        allow: AllowList | None = None,
        attempts: int = 5,
        timeout: float = 5.0,
        first_backoff: float = 0.5,
        workers: int = 16,
        queued_per_destination: int = 100,
    ) -> None:
        self.allow = allow if allow is not None else AllowList()
        self.attempts = attempts
        self.timeout = timeout
        self.first_backoff = first_backoff
        self.workers = workers
        """Destinations served at once; one thread each, started when needed."""
        self.queued_per_destination = queued_per_destination
        """Deliveries one URL may have waiting; more are refused (told not delivered, so the
        outbox keeps them for a later try)."""
        self._destinations: dict[str, _Destination] = {}
        self._line: deque[str] = deque()  # destinations with work and no thread, in turn
        self._threads = 0
        self._unfinished = 0
        self._changed = threading.Condition()
        self._names = itertools.count(1)
        for name in ("urllib3.connectionpool", "urllib3.util.retry"):
            noisy = logging.getLogger(name)
            if _HIDE not in noisy.filters:
                noisy.addFilter(_HIDE)

    @classmethod
    def from_settings(cls, settings: OperatorSettings) -> Notifier:
        """The operator's notifier: ValueError naming --webhook-allow for an unusable pattern."""
        allow = AllowList.parse(settings.webhook_allow, FLAG)
        if not allow:
            logger.warning(
                "no %s given (chart value %s): webhook notifications are off, and Rollouts "
                "whose spec.notifications name one get a NotificationRefused Event instead",
                FLAG,
                CHART_VALUE,
            )
        return cls(allow=allow, attempts=settings.notification_attempts)

    def allows(self, url: str) -> bool:
        """Whether this notifier may send to ``url`` at all."""
        return bool(self.allow) and self.allow.allows_url(url)

    def notify(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        label: str,
        delivery_id: str | None = None,
        on_done: Done | None = None,
        content_type: str = "application/json",
        what: str = "",
    ) -> None:
        """Queue one delivery and return at once. ``label`` names the URL's source for logs;
        ``delivery_id`` goes in the X-Ramp-Delivery header; ``on_done`` hears the outcome
        (False at once for a URL not allowed, which gets no request, or a full queue);
        ``what`` says what it tells in logs (else the Slack body's ``rollout`` does)."""
        delivery = _Delivery(url, payload, label, delivery_id, on_done, content_type, what)
        if not self.allows(url):
            logger.error(
                "notification %s not sent: the webhook from %s is not allowed by %s",
                _what(delivery),
                label,
                FLAG,
            )
            _tell(delivery, False)
            return
        start = False
        with self._changed:
            destination = self._destinations.setdefault(url, _Destination())
            full = len(destination.waiting) >= self.queued_per_destination
            if not full:
                destination.waiting.append(delivery)
                self._unfinished += 1
                if not destination.served:
                    destination.served = True
                    if self._threads < self.workers:
                        self._threads += 1
                        start = True
                    else:
                        self._line.append(url)
        if full:
            logger.warning(
                "notification %s not queued: %d deliveries already wait for the webhook from %s",
                _what(delivery),
                self.queued_per_destination,
                label,
            )
            _tell(delivery, False)
        elif start:
            threading.Thread(
                target=self._serve,
                args=(url,),
                name=f"{THREAD_NAME}-{next(self._names)}",
                daemon=True,
            ).start()

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for queued deliveries; True when all were handled."""
        with self._changed:
            if self._changed.wait_for(lambda: self._unfinished == 0, timeout=timeout):
                return True
            left = self._unfinished
        logger.warning("%d notifications still queued at shutdown", left)
        return False

    def _serve(self, url: str | None) -> None:
        """One delivery thread: deliver to ``url`` in order, taking turns with destinations in
        the line after each delivery, until no destination has work."""
        with NoRedirects() as session:
            # One thread serves many tenants' URLs in turn: keep no cookie one receiver set.
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            while url is not None:
                with self._changed:
                    delivery = self._destinations[url].waiting.popleft()
                try:
                    delivered = self._deliver(session, delivery)
                except Exception as e:  # the thread must go on; the text could hold the URL
                    what = (delivery.label, type(e).__name__)
                    logger.error("delivery to the webhook from %s failed: %s", *what)
                    delivered = False
                with self._changed:
                    self._unfinished -= 1
                    url = self._next(url)
                    self._changed.notify_all()
                _tell(delivery, delivered)

    def _next(self, url: str) -> str | None:
        """Where the calling thread delivers next (its lock held): back in line behind the
        destinations waiting for a thread, or on; None when the thread may end."""
        destination = self._destinations[url]
        if not destination.waiting:
            del self._destinations[url]
        elif self._line:
            self._line.append(url)
        else:
            return url
        if self._line:
            return self._line.popleft()
        self._threads -= 1
        return None

    def _deliver(self, session: requests.Session, delivery: _Delivery) -> bool:
        backoff = self.first_backoff
        problem = ""
        for attempt in range(1, self.attempts + 1):
            try:
                headers = {"Content-Type": delivery.content_type}
                if delivery.delivery_id:
                    headers[DELIVERY_HEADER] = delivery.delivery_id
                response = session.post(
                    delivery.url,
                    json=delivery.payload,
                    timeout=self.timeout,
                    headers=headers,
                    allow_redirects=False,
                )
            except requests.RequestException as e:
                # The exception text contains the URL; only its type is safe to log.
                problem = type(e).__name__
            else:
                if response.status_code < 300:
                    logger.info("notified %s (webhook from %s)", _what(delivery), delivery.label)
                    return True
                problem = f"HTTP {response.status_code}"
                if 300 <= response.status_code < 400:
                    # Never the Location: it could be anyone's, and the allow-list judged the
                    # URL in the Secret, not where it points.
                    problem += (
                        ": the webhook redirected, and redirects are not followed; fix the URL "
                        "in the Secret to the one the receiver answers at itself"
                    )
                    break
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


def _tell(delivery: _Delivery, delivered: bool) -> None:
    if delivery.on_done is not None:
        try:
            delivery.on_done(delivered)
        except Exception:  # a delivery thread must outlive a broken callback
            logger.exception("delivery callback failed")


def _what(delivery: _Delivery) -> str:
    if delivery.what:
        return delivery.what
    rollout = delivery.payload.get("rollout", {})
    return f"{rollout.get('transition')} of {rollout.get('namespace')}/{rollout.get('name')}"
