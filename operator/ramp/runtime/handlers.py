"""Kopf glue: watch events wake one reconcile loop per Rollout. Thin by design.

Only watch-event handlers are registered. Kopf then adds no finalizer and writes no
annotation of its own to a Rollout, so nothing in its metadata drifts from Git; all progress
lives in `status`, written by the reconciler.

Kopf runs standalone; with leader election (`ramp.runtime.leadership`) the loops run only while this
operator holds the Lease, and a standby writes nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf

from ramp import telemetry
from ramp.api import GROUP, PLURAL, VERSION
from ramp.api.rollout_policy import POLICY_PLURAL
from ramp.k8s.accounting import count_requests
from ramp.k8s.clients import Clients, WriteFence, bound_requests, load_clients
from ramp.k8s.configmap import rollouts_named
from ramp.k8s.lease import LeaseLock
from ramp.k8s.ownership import MANAGED_BY, MANAGED_BY_LABEL
from ramp.runtime.index import RolloutIndex
from ramp.runtime.leadership import LeaderElection, candidate_identity
from ramp.runtime.notifications import Notifier
from ramp.runtime.reconcile import Reconciler
from ramp.runtime.settings import OperatorSettings
from ramp.runtime.throttle import CHANGED, TIMED, Throttle
from ramp.runtime.waker import Waker

logger = logging.getLogger("ramp.handlers")

Key = tuple[str, str]


Reconcile = Callable[[str, str], Awaitable[datetime | None]]
"""One reconcile of one Rollout; returns when to come back (None: nothing to come back for)."""

Exists = Callable[[str, str], Awaitable[bool]]
"""Whether the Rollout is still there: False only on 404; any other failure raises."""

Version = Callable[[Key], str | None]
"""The resourceVersion of the Rollout as last delivered by the watch (None: unknown)."""


def unknown_version(key: Key) -> str | None:
    return None


def indexed_exists(index: RolloutIndex) -> Exists:
    """Existence as the watch tells it: a Rollout is gone once its DELETED event arrived."""

    async def exists(namespace: str, name: str) -> bool:
        return (namespace, name) in index

    return exists


@dataclass
class Loops:
    """One reconcile loop per Rollout, woken by watch events or by its own next deadline.

    Loops run only while this operator leads. A standby still learns every Rollout key from the
    watch (Kopf lists every object on start), so that on taking over it wakes all of them.
    """

    reconcile: Reconcile
    exists: Exists
    settings: OperatorSettings
    version: Version = unknown_version
    """Lets a resync with nothing due skip a Rollout the watch has not changed since."""
    leading: bool = False
    known: set[Key] = field(default_factory=set)
    tasks: dict[Key, asyncio.Task[None]] = field(default_factory=dict)
    wakers: dict[Key, Waker] = field(default_factory=dict)
    throttle: Throttle = field(init=False)

    def __post_init__(self) -> None:
        self.throttle = Throttle(self.settings.reconciles_in_flight)

    def seen(self, namespace: str, name: str, deleted: bool) -> None:
        """A watch event of a Rollout: remember (or forget) its key, and wake its loop."""
        key = (namespace, name)
        if deleted:
            self.known.discard(key)
        else:
            self.known.add(key)
        # Also on DELETED: the loop finds the Rollout gone and ends, forgetting its metrics.
        self.wake(namespace, name)

    def wake(self, namespace: str, name: str) -> None:
        """Reconcile the Rollout soon; a no-op while standing by."""
        if not self.leading:
            return
        key = (namespace, name)
        waker = self.wakers.get(key)
        if waker is None:
            waker = self.wakers[key] = Waker()
        waker.set()
        task = self.tasks.get(key)
        if task is None or task.done():
            self.tasks[key] = asyncio.create_task(
                self._loop(key, waker), name=f"rollout {namespace}/{name}"
            )

    async def lead(self) -> None:
        """Start leading: a loop for every Rollout known so far."""
        self.leading = True
        for namespace, name in sorted(self.known):
            self.wake(namespace, name)

    async def stop(self) -> None:
        """Stop leading: cancel every loop and wait until each has ended."""
        self.leading = False
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()  # a task cancelled before it ever ran left its entries behind
        self.wakers.clear()

    async def _loop(self, key: Key, waker: Waker) -> None:
        namespace, name = key
        backoff = self.settings.retry_backoff
        settled: str | None = None  # the version a reconcile left with nothing to come back for
        try:
            while True:
                if settled is not None and not waker.is_set() and self.version(key) == settled:
                    # Only the resync timer ran out, and nothing changed: the decision would be
                    # the same. Idle costs no API call and no decision.
                    await self._sleep(waker, self.settings.resync_interval)
                    continue
                priority = CHANGED if waker.is_set() else TIMED
                waker.clear()  # from here on, a wake-up means "reconcile once more"
                settled = None
                try:
                    async with self.throttle.admit(priority):
                        wake_at = await self.reconcile(namespace, name)
                    if wake_at is None and not await self.exists(namespace, name):
                        if waker.is_set():
                            continue  # woken meanwhile, e.g. re-created under the same name
                        # No await between this check and the task's end: a wake() from now on
                        # finds no task for the key and starts a new one.
                        return
                    backoff = self.settings.retry_backoff
                    if wake_at is None and not waker.is_set():
                        settled = self.version(key)
                except Exception:
                    logger.exception("%s/%s: reconcile failed; retrying in %.0fs", *key, backoff)
                    await self._sleep(waker, backoff)
                    backoff = min(backoff * 2, self.settings.resync_interval)
                    continue
                await self._sleep(waker, self._delay(wake_at))
        finally:
            if self.tasks.get(key) is asyncio.current_task():
                del self.tasks[key]
                self.wakers.pop(key, None)

    def _delay(self, wake_at: datetime | None) -> float:
        if wake_at is None:
            return self.settings.resync_interval
        seconds = (wake_at - datetime.now(UTC)).total_seconds()
        return min(max(seconds, self.settings.min_interval), self.settings.resync_interval)

    async def _sleep(self, waker: Waker, seconds: float) -> None:
        if not await waker.sleep(seconds):
            return  # a timer came due: act on time, so analysis keeps its interval
        # Coalesce a burst of watch events (our own writes echo back) into one reconcile.
        await asyncio.sleep(self.settings.min_interval)


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
    # Only Ramp's ConfigMaps, filtered by the API server: not every ConfigMap of the cluster
    # through the operator, and one that loses Ramp's labels is told as DELETED.
    settings.watching.label_selectors["configmaps"] = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=_settings.api_threads, thread_name_prefix="ramp-api")
    )
    clients: Clients = load_clients()
    clients.api.configuration.connection_pool_maxsize = _settings.api_threads
    election = _settings.leader_election
    # A leader's writes pass only while it surely holds the Lease; alone, it always leads.
    fence = None if election is None else WriteFence()
    # Makes the pool again, for the new size too: or every request beyond cpu_count * 5 at
    # once opens (and then drops) a new TLS connection.
    bound_requests(clients.api, _settings.api_timeout, fence)
    count_requests(clients.api)
    notifier = Notifier.from_settings(_settings)
    reconciler = Reconciler(clients, _settings, notifier)
    index = reconciler.index
    loops = Loops(reconciler.reconcile, indexed_exists(index), _settings, index.version)
    memo.index = index
    memo.config_maps = reconciler.config_maps
    memo.policies = reconciler.policies
    reconciler.deliveries.wake = loops.wake  # a confirmed webhook delivery settles the outbox
    memo.loops = loops
    memo.notifier = notifier
    memo.election = None
    memo.campaign = None
    if election is None:
        telemetry.leader.set(1)
        await loops.lead()
        return
    # The election's own client, not fenced: its Lease writes are what open the fence.
    lease_clients = load_clients(timeout=_settings.api_timeout)
    count_requests(lease_clients.api)
    identity = candidate_identity()
    lock = LeaseLock(lease_clients, election.lease_namespace, election.lease_name, identity)
    memo.election = LeaderElection(
        lock, election, started=loops.lead, stopped=loops.stop, fence=fence
    )
    memo.campaign = asyncio.create_task(memo.election.run(), name="leader election")


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    if memo.campaign is not None:
        memo.campaign.cancel()
        await asyncio.gather(memo.campaign, return_exceptions=True)
    await memo.loops.stop()
    # Only once no loop can write any more: a standby may take over the moment this lands.
    if memo.election is not None:
        await memo.election.release()
    await asyncio.to_thread(memo.notifier.drain, 10.0)


@kopf.on.event(GROUP, VERSION, PLURAL)
async def rollout_changed(
    event: Mapping[str, Any], namespace: str | None, name: str, memo: Any, **_: Any
) -> None:
    if namespace:  # Rollouts are namespaced; the type allows None only for cluster objects
        deleted = event.get("type") == "DELETED"
        memo.policies.note(namespace, name, event["object"], deleted)
        # Kept by leader and standby alike: a new leader decides on it without reading.
        if memo.index.observe(namespace, name, event["object"], deleted):
            memo.loops.seen(namespace, name, deleted=deleted)
        # else: the echo of a status write whose result the reconcile already decided on
        # (one per analysis): waking for it would decide the same again, and read the ConfigMap.


@kopf.on.event("", "v1", "configmaps", labels={MANAGED_BY_LABEL: MANAGED_BY})
async def flag_configmap_changed(
    event: Mapping[str, Any],
    namespace: str | None,
    name: str,
    memo: Any,
    **_: Any,
) -> None:
    if not namespace:
        return
    # Kept by leader and standby alike: reconciles read the ConfigMap from here, not the API.
    # The watch is filtered by the API server (see `start`), so a ConfigMap whose labels no
    # longer match arrives as DELETED and is read from the API again.
    deleted = event.get("type") == "DELETED"
    if not memo.config_maps.observe(namespace, name, event["object"], deleted):
        return  # the echo of our own write, whose result is kept already
    # Someone edited or deleted a flag ConfigMap: let the Rollouts that own keys in it put it
    # right (and drop a deleted one's keys). A standby ignores it: on taking over, the new
    # leader reconciles every Rollout anyway.
    for owner in sorted(rollouts_named(event["object"].get("metadata") or {})):
        memo.loops.wake(namespace, owner)


@kopf.on.event(GROUP, VERSION, POLICY_PLURAL)
async def policy_changed(
    event: Mapping[str, Any], namespace: str | None, name: str, memo: Any, **_: Any
) -> None:
    if not namespace:
        return
    # Kept by leader and standby alike: reconciles resolve policies from here, not the API.
    deleted = event.get("type") == "DELETED"
    if memo.policies.observe(namespace, name, event["object"], deleted):
        # Created, edited or deleted: the Rollouts naming it decide again, and only they.
        for rollout in memo.policies.users_of(namespace, name):
            memo.loops.wake(namespace, rollout)
