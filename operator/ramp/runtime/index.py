"""The Rollouts as the watch last delivered them: what a reconcile decides on, without a GET.

Kopf already lists and watches every Rollout to call the event handler; keeping the bodies it
delivers saves one GET per reconcile (with 3,000 Rollouts, most of the operator's API traffic).
A body may be behind the API server by one event still in flight. That is safe because every
write is made over the resourceVersion the decision was made on: a stale body makes the write a
409 Conflict, and the reconciler then reads the Rollout again (`refresh`) and decides anew.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ramp.api import RolloutStatus

Key = tuple[str, str]

TOMBSTONE_SECONDS = 300.0
"""How long a deletion is remembered: far longer than any write in flight takes to return."""


def newer(candidate: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether ``candidate`` is a later version of the object than ``current``.

    resourceVersions are opaque to clients, but every API server backed by etcd issues them as
    increasing integers; a body from our own write and a watch event may arrive in either
    order, and the older must not replace the newer. When either is not an integer, the last
    one delivered wins (a write with it then conflicts and reads again, if it was older).
    """
    try:
        return int(candidate["metadata"]["resourceVersion"]) >= int(
            current["metadata"]["resourceVersion"]
        )
    except (KeyError, TypeError, ValueError):
        return True


def _kept(value: Any) -> Any:
    """A deep copy of a JSON value whose keys are interned: every body parsed from the watch has
    its own copy of each key ("lastTransitionTime", "observedGeneration", ...), and thousands of
    kept bodies would hold thousands of copies of each."""
    if isinstance(value, dict):
        return {sys.intern(k) if isinstance(k, str) else k: _kept(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_kept(v) for v in value]
    return value  # str, int, float, bool, None: immutable, shared as deepcopy shares them


@dataclass
class BodyIndex:
    """The latest known body of every object of one kind the operator watches, by (namespace,
    name)."""

    bodies: dict[Key, dict[str, Any]] = field(default_factory=dict)
    gone: dict[Key, tuple[dict[str, Any], float]] = field(default_factory=dict)
    """Objects the watch said were deleted, with their last metadata and when: a body of ours
    (a write that returned after the DELETED event) older than that must not bring them back.
    Kept for TOMBSTONE_SECONDS."""
    confirmed: dict[Key, float] = field(default_factory=dict)
    """When each body was last delivered or written (time.monotonic)."""

    def observe(self, namespace: str, name: str, body: Mapping[str, Any], deleted: bool) -> bool:
        """A watch event: keep the body, or forget it on DELETED. False when the event told
        nothing new: the echo of our own write, whose result is already kept."""
        key = (namespace, name)
        if deleted:
            self.forget(key)
            now = time.monotonic()
            self.gone = {k: v for k, v in self.gone.items() if now - v[1] < TOMBSTONE_SECONDS}
            self.gone[key] = ({"metadata": dict(body.get("metadata") or {})}, now)
            return True
        return self.store(key, body)

    def store(self, key: Key, body: Mapping[str, Any]) -> bool:
        """Keep ``body`` unless the same or a later version is known already; True if kept."""
        current = self.bodies.get(key)
        version = (body.get("metadata") or {}).get("resourceVersion")
        # Written to from the API threads (our writes) and the event loop (the watch).
        tombstone = self.gone.get(key)
        if tombstone is not None:
            if not newer(body, tombstone[0]) or version == self._version_of(tombstone[0]):
                return False
            self.gone.pop(key, None)
        if current is not None and version is not None and version == self.version(key):
            self.confirmed[key] = time.monotonic()
            return False
        if current is None or newer(body, current):
            # Kopf hands out its own raw dict; the reconciler changes its copy as it writes.
            kept = {sys.intern(k): _kept(v) for k, v in body.items() if k != "metadata"}
            # managedFields is often the largest part of a body and nothing decides on it:
            # with thousands of Rollouts it would be most of the index's memory.
            meta = body.get("metadata") or {}
            kept["metadata"] = {
                sys.intern(k): _kept(v) for k, v in meta.items() if k != "managedFields"
            }
            self.bodies[key] = kept
            self.confirmed[key] = time.monotonic()
            return True
        return False

    def forget(self, key: Key) -> None:
        self.bodies.pop(key, None)
        self.confirmed.pop(key, None)

    def get(self, key: Key) -> dict[str, Any] | None:
        """The latest known body, to decide on; None: not known (gone). The body and its
        metadata are copies, so a reconcile may set their keys (status after a write,
        finalizers); what they hold is the kept body's own and is never changed in place (a
        deep copy per reconcile was a tenth of the operator's CPU with thousands of analyses)."""
        body = self.bodies.get(key)
        if body is None:
            return None
        return {**body, "metadata": dict(body["metadata"])}

    def confirmed_within(self, key: Key, seconds: float) -> Mapping[str, Any] | None:
        """The body, if the watch or a write confirmed it in the last ``seconds``: the kept one
        itself, to read only (a newer version replaces it, nothing changes it in place)."""
        at = self.confirmed.get(key)
        if at is None or time.monotonic() - at > seconds:
            return None
        return self.bodies.get(key)

    def version(self, key: Key) -> str | None:
        """The resourceVersion known for the object; None when it is not known."""
        body = self.bodies.get(key)
        return None if body is None else self._version_of(body)

    @staticmethod
    def _version_of(body: Mapping[str, Any]) -> str | None:
        version = (body.get("metadata") or {}).get("resourceVersion")
        return str(version) if version is not None else None

    def __contains__(self, key: object) -> bool:
        return key in self.bodies

    def __len__(self) -> int:
        return len(self.bodies)


@dataclass
class RolloutIndex(BodyIndex):
    """The Rollouts as the watch delivered them, and statuses decided but left unwritten."""

    unwritten: dict[Key, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """A status decided but left unwritten (a routine analysis, see engine.writes), as its
    readings over the stored status of the resourceVersion it was decided on: it holds only
    while that is the latest version. Only the readings are kept, not the whole status: with
    thousands of Rollouts a parsed status each was the largest part of the operator's memory."""

    normalized: dict[Key, str] = field(default_factory=dict)
    """The resourceVersion at which the kept body's status was found in the form the shell
    compares (what RolloutStatus dumps): at that version it need not be parsed and dumped again
    to be compared."""

    def forget(self, key: Key) -> None:
        super().forget(key)
        self.unwritten.pop(key, None)
        self.normalized.pop(key, None)

    def status_normalized(self, key: Key, version: str) -> bool:
        """Whether the status of ``version`` was found already in the dumped form."""
        return self.normalized.get(key) == version

    def mark_normalized(self, key: Key, version: str) -> None:
        self.normalized[key] = version

    def keep_unwritten(self, key: Key, version: str, readings: dict[str, Any] | None) -> None:
        """Remember ``readings`` (engine.routine_readings) as decided on ``version`` but not
        written; None forgets them."""
        if readings is None:
            self.unwritten.pop(key, None)
        else:
            self.unwritten[key] = (version, readings)

    def status_to_decide_on(self, key: Key) -> RolloutStatus | None:
        """The status left unwritten on the latest version, if any: any other version (a
        write of ours, a person's edit, a CLI action) supersedes it."""
        kept = self.unwritten.get(key)
        if kept is None:
            return None
        if kept[0] != self.version(key):
            del self.unwritten[key]
            return None
        stored = self.bodies[key].get("status") or {}
        return RolloutStatus.model_validate({**stored, **kept[1]})
