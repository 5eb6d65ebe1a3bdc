"""Recording from the cluster: every version of every Rollout and ConfigMap in a namespace, in
the order the apiserver stored them, turned into the `Moment`s the invariants are checked over.

Watch streams (one thread per kind) resume from the last resourceVersion they saw after any
break, an apiserver restart included, so no stored version is skipped; only a 410 (history
compacted away) makes them list again, and that gap is counted in ``relists``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from kubernetes import client, watch

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine.effects import PublishFlag
from ramp.k8s.flagd import scheme_of
from tests.support.cluster import Cluster
from tests.support.invariants import Moment
from tests.support.rollouts import GROUP, PLURAL, VERSION

Kind = Literal["Rollout", "ConfigMap"]

WATCH_SECONDS = 5
"""Server-side timeout of one watch request; the thread checks whether to stop in between."""

RETRY_SECONDS = 0.1
"""Pause before watching again after a broken stream (the apiserver restarting, say)."""


@dataclass(frozen=True)
class Version:
    """One stored version of an object, as the watch delivered it (``obj`` None: deleted)."""

    at: datetime
    kind: Kind
    name: str
    resource_version: str
    obj: dict[str, Any] | None


class Recorder:
    """Records every Rollout and ConfigMap version of ``namespace`` from ``start`` to ``stop``."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.versions: list[Version] = []
        self.relists: list[tuple[datetime, Kind]] = []
        """When a stream had to list again (after a 410): versions written between its last
        event and the list may be missing from the trace (it shows only the newest)."""
        self.broken_streams = 0
        self._last: dict[tuple[Kind, str], str] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listed = {"Rollout": threading.Event(), "ConfigMap": threading.Event()}

    def start(self) -> Recorder:
        custom, core = self.cluster.custom, self.cluster.core
        ns = self.namespace

        def rollouts(**kw: Any) -> Any:
            return custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, **kw)

        def configmaps(**kw: Any) -> Any:
            return core.list_namespaced_config_map(ns, **kw)

        for kind, lister in (("Rollout", rollouts), ("ConfigMap", configmaps)):
            thread = threading.Thread(
                target=self._watch, args=(kind, lister), name=f"record {kind}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        for kind, listed in self._listed.items():
            if not listed.wait(30):
                raise AssertionError(f"the {kind} recorder could not list {ns} within 30s")
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(WATCH_SECONDS + 10)

    def snapshot(self) -> list[Version]:
        with self._lock:
            return list(self.versions)

    def dump(self, path: Path) -> None:
        """Every recorded version as JSON lines (arrival time, kind, name, resourceVersion,
        object), for reading a failed run afterwards."""
        with path.open("w") as out:
            for v in self.snapshot():
                line = {"at": v.at.isoformat(), "kind": v.kind, "name": v.name}
                out.write(json.dumps({**line, "rv": v.resource_version, "obj": v.obj}) + "\n")

    def _record(self, kind: Kind, obj: dict[str, Any], deleted: bool = False) -> str:
        meta = obj["metadata"]
        version = Version(
            at=datetime.now(UTC),
            kind=kind,
            name=meta["name"],
            resource_version=meta["resourceVersion"],
            obj=None if deleted else obj,
        )
        key = (kind, version.name)
        with self._lock:
            if self._last.get(key) == version.resource_version and not deleted:
                return version.resource_version  # listed again, unchanged: not a new version
            self._last[key] = version.resource_version
            self.versions.append(version)
        return version.resource_version

    def _watch(self, kind: Kind, lister: Callable[..., Any]) -> None:
        resource_version: str | None = None
        while not self._stopping.is_set():
            try:
                if resource_version is None:
                    listed = lister(_preload_content=False)
                    body = json.loads(listed.data)
                    for item in body["items"]:
                        item.setdefault("kind", kind)
                        self._record(kind, item)
                    resource_version = body["metadata"]["resourceVersion"]
                    if self._listed[kind].is_set():
                        self.relists.append((datetime.now(UTC), kind))
                    self._listed[kind].set()
                stream = watch.Watch().stream(
                    lister,
                    resource_version=resource_version,
                    timeout_seconds=WATCH_SECONDS,
                    _request_timeout=WATCH_SECONDS + 5,
                    allow_watch_bookmarks=True,
                )
                for event in stream:
                    raw = event["raw_object"]
                    if event["type"] == "ERROR":
                        if raw.get("code") == 410:
                            resource_version = None  # compacted: list again
                            break
                        raise client.ApiException(status=raw.get("code"), reason=str(raw))
                    if event["type"] == "BOOKMARK":
                        resource_version = raw["metadata"]["resourceVersion"]
                        continue
                    resource_version = self._record(kind, raw, event["type"] == "DELETED")
                    if self._stopping.is_set():
                        break
            except Exception as e:  # a broken stream; resume from the last version seen
                if isinstance(e, client.ApiException) and e.status == 410:
                    resource_version = None
                self.broken_streams += 1
                time.sleep(RETRY_SECONDS)


def published_values(configmap: dict[str, Any] | None, spec: RolloutSpec) -> PublishFlag | None:
    """What apps reading ``configmap`` are served: flags.json decides (flagd reads it); the env
    percentage fills in the percentage while disabled, when flags.json carries none."""
    if configmap is None:
        return None
    data: dict[str, str] = configmap.get("data") or {}
    env = spec.flag.env
    env_percentage: float | None = None
    if env is not None and env.percentage and env.percentage in data:
        try:
            env_percentage = float(data[env.percentage])
        except ValueError:
            env_percentage = None
    try:
        flag = json.loads(data["flags.json"])["flags"][spec.flag.key]
    except (KeyError, ValueError, TypeError):
        return None
    try:
        scheme = scheme_of(flag)  # which users the percentage means (I11)
    except ValueError:
        return None
    targeting = flag.get("targeting")
    if not targeting:
        return PublishFlag(enabled=False, percentage=env_percentage or 0.0, bucketing=scheme)
    weights = dict(targeting["fractional"])
    total = sum(weights.values())
    percentage = round(weights.get("on", 0) * 100 / total, 2)
    return PublishFlag(enabled=True, percentage=percentage, bucketing=scheme)


def moments(versions: list[Version], rollout: str) -> list[Moment]:
    """The trace of one Rollout: a Moment at each new version of it or of its ConfigMap, holding
    the latest spec, status and published values known at that instant (None before the
    ConfigMap exists or after it is deleted)."""
    spec: RolloutSpec | None = None
    status = RolloutStatus()
    configmaps: dict[str, dict[str, Any] | None] = {}
    trace: list[Moment] = []
    for version in storage_order(versions):
        if version.kind == "ConfigMap":
            configmaps[version.name] = version.obj
            if spec is None or version.name != spec.flag.config_map:
                continue
        elif version.name != rollout:
            continue
        elif version.obj is None:
            break  # deleted: the trace of this Rollout ends
        else:
            spec = RolloutSpec.model_validate(version.obj.get("spec") or {})
            status = RolloutStatus.model_validate(version.obj.get("status") or {})
        assert spec is not None
        configmap = configmaps.get(spec.flag.config_map)
        trace.append(
            Moment(
                at=version.at,
                spec=spec,
                status=status,
                published=published_values(configmap, spec),
            )
        )
    return trace


def storage_order(versions: list[Version]) -> list[Version]:
    """The versions in the order etcd stored them, each timed no later than any version stored
    after it arrived.

    Two watch streams deliver independently, so arrival order across kinds can invert (one
    stream reconnecting lags the other). The testbed has one etcd, whose revision is the
    resourceVersion of every object, so resourceVersions order writes across kinds. A version
    was written before any later-stored version arrived: the running minimum of arrival times,
    taken from the newest backwards, bounds each write time from above.
    """
    ordered = sorted(versions, key=lambda v: int(v.resource_version))
    timed: list[Version] = []
    latest = datetime.max.replace(tzinfo=UTC)
    for version in reversed(ordered):
        latest = min(latest, version.at)
        timed.append(replace(version, at=latest))
    return timed[::-1]


def first_write_after(versions: list[Version], since: datetime, names: set[str]) -> datetime | None:
    """When the first version of one of ``names`` (Rollouts or ConfigMaps) stored after
    ``since`` arrived: the operator's first successful write."""
    for version in storage_order(versions):
        if version.at >= since and version.name in names:
            return version.at
    return None
