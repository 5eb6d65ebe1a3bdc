"""Telling what status.outbox holds: each announcement's Event and webhook notifications.

The engine keeps an announcement in the status until every delivery of it is confirmed; this
module delivers and remembers, in memory, what was confirmed until a status written without it
makes the memory unnecessary. A crash loses only that memory: the announcement is then delivered
again under the same id (an Event of the same name is refused as a duplicate, and webhooks get
the same `X-Ramp-Delivery` header), so every announcement is told at least once (I8).

A webhook whose URL the operator's admin does not allow (`ramp run --webhook-allow`) is settled
without a request, like one whose Secret cannot be used: a Warning Event `NotificationRefused`
on the Rollout and a log line say which notification (by its index in spec.notifications) and
which flag, never the URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ramp.api import RolloutSpec
from ramp.api.status import Announcement, RolloutStatus
from ramp.engine import delivery_key, incidents, payloads, pending_deliveries
from ramp.k8s.clients import Clients
from ramp.k8s.events import deliver_event, record_event
from ramp.k8s.secrets import SecretValueError, read_secret_value
from ramp.runtime.notifications import CHART_VALUE, FLAG, Notifier

logger = logging.getLogger("ramp.delivery")

Key = tuple[str, str]


def delivery_id(rollout: dict[str, Any], announcement: Announcement, target: str) -> str:
    """Stable across restarts and unique across Rollouts (a re-created one has a new uid)."""
    return f"{rollout['metadata'].get('uid', '')}/{announcement.seq}/{target}"


def refusal(index: int, label: str, *, allow_list_given: bool) -> str:
    """Why notification ``index`` gets no request, naming where its URL came from (``label``)
    and the admin's setting, never the URL (it is a credential)."""
    where = f"spec.notifications[{index}]: the webhook URL in {label}"
    if not allow_list_given:
        return (
            f"{where} was not sent: this operator sends no webhooks, its admin allowed none "
            f"({FLAG}, chart value {CHART_VALUE}); ask the admin to allow this webhook"
        )
    return (
        f"{where} is not allowed by this operator's {FLAG} list (chart value {CHART_VALUE}); "
        "nothing was sent: use an allowed webhook, or ask the admin to allow this one"
    )


@dataclass
class Deliveries:
    clients: Clients
    notifier: Notifier
    wake: Callable[[str, str], None] | None = None
    """Reconcile a Rollout soon (set by the handlers): a confirmed webhook delivery must reach
    the status."""

    confirmed: dict[Key, set[str]] = field(default_factory=dict)
    inflight: set[tuple[Key, str]] = field(default_factory=set)
    loop: asyncio.AbstractEventLoop | None = None

    def confirmed_for(self, key: Key) -> frozenset[str]:
        return frozenset(self.confirmed.get(key, ()))

    def consumed(self, key: Key, keys: frozenset[str]) -> None:
        """A status without these deliveries was written: they need no memory any more."""
        left = self.confirmed.get(key)
        if left is not None:
            left -= keys
            if not left:
                del self.confirmed[key]

    def forget(self, key: Key) -> None:
        self.confirmed.pop(key, None)
        self.inflight = {entry for entry in self.inflight if entry[0] != key}

    async def deliver(
        self, rollout: dict[str, Any], spec: RolloutSpec, status: RolloutStatus
    ) -> bool:
        """Start every pending delivery not yet confirmed or in flight; True when some were
        confirmed right away (so the outbox can shrink at once)."""
        self.loop = asyncio.get_running_loop()
        key: Key = (rollout["metadata"]["namespace"], rollout["metadata"]["name"])
        confirmed = self.confirmed.setdefault(key, set())
        settled_now = False
        for announcement, target in pending_deliveries(status.outbox):
            dkey = delivery_key(announcement, target)
            if dkey in confirmed or (key, dkey) in self.inflight:
                continue
            if target == "event":
                if await asyncio.to_thread(deliver_event, self.clients, rollout, announcement):
                    confirmed.add(dkey)
                    settled_now = True
                continue
            if await self._notify(rollout, spec, status, announcement, target, key, dkey):
                confirmed.add(dkey)
                settled_now = True
        if not confirmed:
            del self.confirmed[key]
        return settled_now

    async def _notify(
        self,
        rollout: dict[str, Any],
        spec: RolloutSpec,
        status: RolloutStatus,
        announcement: Announcement,
        target: str,
        key: Key,
        dkey: str,
    ) -> bool:
        """Queue one webhook delivery; True when it is settled without sending (the target is
        gone from the spec, or its Secret cannot be used: logged)."""
        namespace, name = key
        index = int(target.removeprefix("webhook-"))
        targets = spec.notifications or []
        if index >= len(targets):
            return True
        notification = targets[index]
        ref = notification.secret_ref
        label = f"Secret {namespace}/{ref.name}[{ref.key}]"
        what = f"{announcement.reason} of {namespace}/{name}"
        if notification.format == "PagerDuty" and not incidents.pages(status, announcement):
            logger.info(
                "notification %s not sent to the on-call service from %s: it opens no "
                "incident, or its incident was resolved before it could be delivered",
                what,
                label,
            )
            return True
        allow_list_given = bool(self.notifier.allow)
        url = None
        routing_key = ""
        if allow_list_given:  # with none, every URL is refused: the Secret need not be read
            try:
                url = await asyncio.to_thread(read_secret_value, self.clients, namespace, ref)
            except SecretValueError as e:
                logger.error("notification %s not sent: %s", what, e)
                return True
            if notification.format == "PagerDuty":
                try:
                    url, routing_key = payloads.pagerduty_destination(url)
                except ValueError as e:
                    why = (
                        f"spec.notifications[{index}] (format PagerDuty): the value in {label} {e}"
                    )
                    logger.error("notification %s not sent: %s", what, why)
                    await asyncio.to_thread(
                        record_event, self.clients, rollout, "Warning", "NotificationRefused", why
                    )
                    return True
        if url is None or not self.notifier.allows(url):
            why = refusal(index, label, allow_list_given=allow_list_given)
            logger.error("notification %s not sent: %s", what, why)
            await asyncio.to_thread(
                record_event, self.clients, rollout, "Warning", "NotificationRefused", why
            )
            return True
        meta = rollout["metadata"]
        body = payloads.render(
            notification.format,
            payloads.Rollout(namespace, name, meta.get("uid", "")),
            announcement,
            routing_key,
        )
        self.inflight.add((key, dkey))
        loop = asyncio.get_running_loop()

        def done(ok: bool) -> None:
            loop.call_soon_threadsafe(self._done, key, dkey, ok)

        self.notifier.notify(
            url,
            body.json,
            label=label,
            delivery_id=delivery_id(rollout, announcement, target),
            on_done=done,
            content_type=body.content_type,
            what=what,
        )
        return False

    def _done(self, key: Key, dkey: str, ok: bool) -> None:
        self.inflight.discard((key, dkey))
        if ok:
            self.confirmed.setdefault(key, set()).add(dkey)
            if self.wake is not None:
                self.wake(*key)
