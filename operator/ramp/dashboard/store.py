"""The Rollouts the dashboard shows, kept current by a watch (list, then watch from its
resourceVersion; a new list when the watch expires), so pages update without a refresh.

The Kubernetes client is synchronous: the watch runs in a thread and wakes the event loop's
waiters on every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from kubernetes import watch

from ramp.api import GROUP, PLURAL, VERSION
from ramp.k8s.clients import Clients

logger = logging.getLogger("ramp.dashboard")

WATCH_SECONDS = 60
"""Length of one watch request; the server ends it and the store watches again."""

Key = tuple[str, str]


class RolloutStore:
    """Rollouts by (namespace, name), and a version that grows on every change."""

    def __init__(self, clients: Clients, namespace: str | None) -> None:
        self.clients = clients
        self.namespace = namespace
        """None: every namespace."""
        self.rollouts: dict[Key, dict[str, Any]] = {}
        self.version = 0
        self.error: str | None = None
        """Why the last list or watch failed (shown on the pages), None when it works."""
        self._changed: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Condition()
        self._thread = threading.Thread(target=self._run, name="rollout-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()  # type: ignore[no-untyped-call]

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.rollouts.get((namespace, name))

    async def wait_change(self, seen: int, timeout: float) -> int:
        """Wait until the version passes ``seen`` (or ``timeout`` seconds); the version now."""
        assert self._changed is not None
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self.version > seen), timeout)
        return self.version

    def _list(self, **kwargs: Any) -> Any:
        if self.namespace is None:
            return self.clients.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kwargs)
        return self.clients.custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, **kwargs
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                listed = self._list()
                items = {_key(r): r for r in listed["items"]}
                self._publish(lambda found=items: self._replace(found, None))
                self._follow(listed["metadata"]["resourceVersion"])
            except Exception as e:  # shown on the page; the next list tries again
                logger.warning("listing Rollouts failed: %s", e)
                message = f"cannot list Rollouts: {getattr(e, 'reason', None) or e}"
                self._publish(lambda m=message: self._replace(self.rollouts, m))
                self._stop.wait(2)

    def _follow(self, resource_version: str) -> None:
        """Watch from ``resource_version`` until the server ends the watch or it expires."""
        while not self._stop.is_set():
            self._watch = watch.Watch()  # type: ignore[no-untyped-call]
            for event in self._watch.stream(  # type: ignore[no-untyped-call]
                self._list, resource_version=resource_version, timeout_seconds=WATCH_SECONDS
            ):
                obj = event["object"]
                if event["type"] == "ERROR":
                    return  # expired (410 Gone) or refused: list again
                resource_version = obj["metadata"]["resourceVersion"]
                if event["type"] == "DELETED":
                    self._publish(lambda o=obj: self.rollouts.pop(_key(o), None))
                else:
                    self._publish(lambda o=obj: self.rollouts.__setitem__(_key(o), o))

    def _replace(self, items: dict[Key, dict[str, Any]], error: str | None) -> None:
        self.rollouts = items
        self.error = error

    def _publish(self, change: Any) -> None:
        """Apply ``change`` on the event loop and wake the pages waiting for one."""
        assert self._loop is not None

        async def apply() -> None:
            assert self._changed is not None
            async with self._changed:
                change()
                self.version += 1
                self._changed.notify_all()

        asyncio.run_coroutine_threadsafe(apply(), self._loop)


def _key(rollout: dict[str, Any]) -> Key:
    meta = rollout["metadata"]
    return meta["namespace"], meta["name"]
