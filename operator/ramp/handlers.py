"""Kopf glue: watch events wake one reconcile loop per Rollout. Thin by design.

Only watch-event handlers are registered. Kopf then adds no finalizer and writes no
annotation of its own to a Rollout, so nothing in its metadata drifts from Git; all progress
lives in `status`, written by the reconciler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf

from ramp.api import GROUP, PLURAL, VERSION
from ramp.k8s.clients import Clients, load_clients
from ramp.k8s.ownership import MANAGED_BY, ROLLOUT_LABEL
from ramp.notifications import Notifier
from ramp.reconcile import Reconciler
from ramp.settings import OperatorSettings

logger = logging.getLogger("ramp.handlers")

Key = tuple[str, str]


@dataclass
class Loops:
    """One reconcile loop per Rollout, woken by watch events or by its own next deadline."""

    reconciler: Reconciler
    settings: OperatorSettings
    tasks: dict[Key, asyncio.Task[None]] = field(default_factory=dict)
    wakers: dict[Key, asyncio.Event] = field(default_factory=dict)

    def wake(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        waker = self.wakers.setdefault(key, asyncio.Event())
        waker.set()
        task = self.tasks.get(key)
        if task is None or task.done():
            self.tasks[key] = asyncio.create_task(
                self._loop(key), name=f"rollout {namespace}/{name}"
            )

    async def _loop(self, key: Key) -> None:
        namespace, name = key
        waker = self.wakers[key]
        backoff = self.settings.retry_backoff
        try:
            while True:
                waker.clear()
                try:
                    wake_at = await self.reconciler.reconcile(namespace, name)
                    backoff = self.settings.retry_backoff
                except Exception:
                    logger.exception("%s/%s: reconcile failed; retrying in %.0fs", *key, backoff)
                    wake_at = None
                    await self._sleep(waker, backoff)
                    backoff = min(backoff * 2, self.settings.resync_interval)
                    continue
                if wake_at is None and not waker.is_set() and await self._gone(namespace, name):
                    return
                await self._sleep(waker, self._delay(wake_at))
        finally:
            if self.tasks.get(key) is asyncio.current_task():
                del self.tasks[key]
                self.wakers.pop(key, None)

    async def _gone(self, namespace: str, name: str) -> bool:
        clients = self.reconciler.clients
        try:
            await asyncio.to_thread(clients.get_rollout, namespace, name)
        except Exception:
            return True
        return False

    def _delay(self, wake_at: datetime | None) -> float:
        if wake_at is None:
            return self.settings.resync_interval
        seconds = (wake_at - datetime.now(UTC)).total_seconds()
        return min(max(seconds, self.settings.min_interval), self.settings.resync_interval)

    async def _sleep(self, waker: asyncio.Event, seconds: float) -> None:
        try:
            await asyncio.wait_for(waker.wait(), timeout=seconds)
        except TimeoutError:
            return  # a timer came due: act on time, so analysis keeps its interval
        # Coalesce a burst of watch events (our own writes echo back) into one reconcile.
        await asyncio.sleep(self.settings.min_interval)

    async def stop(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_settings = OperatorSettings()


def configure(settings: OperatorSettings) -> None:
    """Set before the operator starts (the `ramp run` command does)."""
    global _settings
    _settings = settings


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 330
    settings.peering.lifetime = _settings.peering_lifetime
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=_settings.api_threads, thread_name_prefix="ramp-api")
    )
    clients: Clients = load_clients()
    clients.api.configuration.connection_pool_maxsize = _settings.api_threads
    notifier = Notifier(attempts=_settings.notification_attempts)
    memo.loops = Loops(Reconciler(clients, _settings, notifier), _settings)
    memo.notifier = notifier


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    await memo.loops.stop()
    await asyncio.to_thread(memo.notifier.drain, 10.0)


@kopf.on.event(GROUP, VERSION, PLURAL)
async def rollout_changed(namespace: str | None, name: str, memo: Any, **_: Any) -> None:
    if namespace:  # Rollouts are namespaced; the type allows None only for cluster objects
        memo.loops.wake(namespace, name)


@kopf.on.event("", "v1", "configmaps", labels={"app.kubernetes.io/managed-by": MANAGED_BY})
async def flag_configmap_changed(
    namespace: str | None, labels: Mapping[str, str], memo: Any, **_: Any
) -> None:
    # Someone edited or deleted a flag ConfigMap: let its Rollout put it right.
    owner = labels.get(ROLLOUT_LABEL)
    if owner and namespace:
        memo.loops.wake(namespace, owner)
