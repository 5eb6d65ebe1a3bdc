"""The operator's shell in the test's own process: the real `Reconciler` and `Loops`, fed by a
real watch of the testbed's API server, with what the test needs to make the world hostile:
watch events held back (late) and delivered in another order, Prometheus answers held (a slow
query), and failed writes. Kopf is left out: it only turns watch events into the two calls the
watch threads below make (`handlers.rollout_changed`, `handlers.flag_configmap_changed`)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client, watch

from ramp.k8s.clients import Clients, load_clients
from ramp.k8s.configmap import rollouts_named
from ramp.k8s.ownership import MANAGED_BY, MANAGED_BY_LABEL
from ramp.runtime.handlers import Loops, indexed_exists
from ramp.runtime.notifications import Notifier
from ramp.runtime.reconcile import Reconciler
from ramp.runtime.settings import OperatorSettings
from tests.support.rollouts import GROUP, PLURAL, VERSION


@dataclass
class Event:
    kind: str  # "rollout" or "configmap"
    type: str
    body: dict[str, Any]


@dataclass
class Shell:
    """One operator's shell on ``namespace``; `restart` throws away everything it knew."""

    kubeconfig: str
    namespace: str
    settings: OperatorSettings
    late: float = 0.0
    """Seconds each watch event is held back before the shell sees it."""
    shuffle: bool = False
    """Deliver the events held back together in a random order."""
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    loop: asyncio.AbstractEventLoop = field(init=False)
    clients: Clients = field(init=False)
    reconciler: Reconciler = field(init=False)
    loops: Loops = field(init=False)
    _thread: threading.Thread = field(init=False)
    _watches: list[watch.Watch] = field(default_factory=list)
    _stopped: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.clients = load_clients(self.kubeconfig)
        self._stopped = threading.Event()  # this start's own: a restart ends the old watches
        self._call(self._begin()).result(timeout=30)
        for kind in ("rollout", "configmap"):
            threading.Thread(target=self._watch, args=(kind, self._stopped), daemon=True).start()

    async def _begin(self) -> None:
        self.reconciler = Reconciler(self.clients, self.settings, Notifier(attempts=1))
        index = self.reconciler.index
        self.loops = Loops(
            self.reconciler.reconcile, indexed_exists(index), self.settings, index.version
        )
        self.reconciler.deliveries.wake = self.loops.wake
        await self.loops.lead()

    def stop(self) -> None:
        self._stopped.set()
        for w in self._watches:
            w.stop()
        self._watches.clear()
        self._call(self.loops.stop()).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.reconciler.providers.close()
        self.clients.api.close()

    def restart(self) -> None:
        """A new process: nothing in memory survives, only what the API server stores."""
        self.stop()
        self.start()

    def _call(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def _watch(self, kind: str, stopped: threading.Event) -> None:
        """List and watch, again and again as Kopf does: a stream the API server ends (its
        timeout, a restart of the API server) is started anew."""
        while not stopped.is_set():
            w = watch.Watch()
            self._watches.append(w)
            if kind == "rollout":
                stream = w.stream(
                    self.clients.custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    PLURAL,
                    timeout_seconds=60,
                )
            else:
                stream = w.stream(
                    self.clients.core.list_namespaced_config_map,
                    self.namespace,
                    label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}",
                    timeout_seconds=60,
                )
            try:
                for raw in stream:
                    if stopped.is_set():
                        return
                    body = raw["object"]
                    if not isinstance(body, dict):
                        body = self.clients.api.sanitize_for_serialization(body)
                    event = Event(kind, raw["type"], body)
                    delay = self.late * (self.rng.random() * 2 if self.shuffle else 1)
                    self.loop.call_soon_threadsafe(
                        self.loop.call_later, delay, self._deliver, event
                    )
            except Exception:
                if stopped.is_set():
                    return
                time.sleep(0.5)  # the API server is away: list and watch again shortly

    def _deliver(self, event: Event) -> None:
        """What the handlers do with a watch event (handlers.rollout_changed and
        handlers.flag_configmap_changed)."""
        meta = event.body["metadata"]
        deleted = event.type == "DELETED"
        if event.kind == "rollout":
            if self.reconciler.index.observe(meta["namespace"], meta["name"], event.body, deleted):
                self.loops.seen(meta["namespace"], meta["name"], deleted=deleted)
            return
        if self.reconciler.config_maps.observe(
            meta["namespace"], meta["name"], event.body, deleted
        ):
            for owner in sorted(rollouts_named(meta)):
                self.loops.wake(meta["namespace"], owner)


@contextmanager
def running_shell(kubeconfig: str, namespace: str, settings: OperatorSettings) -> Iterator[Shell]:
    shell = Shell(kubeconfig, namespace, settings)
    shell.start()
    try:
        yield shell
    finally:
        shell.stop()


def failing_once(target: Callable[..., Any], status: int, reason: str) -> Callable[..., Any]:
    """``target`` that fails its next call with an API error (``status``), then works again."""
    failures = [1]

    def call(*args: Any, **kwargs: Any) -> Any:
        if failures:
            failures.pop()
            raise client.ApiException(status=status, reason=reason)
        return target(*args, **kwargs)

    return call
