"""The leader Lease (coordination.k8s.io/v1): read it, take or renew it, let it go.

The same record client-go's `resourcelock.LeaseLock` keeps, so `kubectl get lease` reads the
same way as for controller-runtime or Argo Rollouts: HOLDER is the leading replica. Every write
carries the resourceVersion it was decided on; a 409 means another candidate got there first.
Its times (`renewTime`, `acquireTime`) are the writer's wall clock, for people to read: whether
another holder's claim still stands is the candidate's to judge by its own monotonic clock
(`ramp.runtime.leadership.LeaseObserver`), never by comparing those times with its own wall clock.

Lease traffic is not counted in `ramp_api_writes_total`: that counter measures what reconciles
write (a standby and an idle leader write nothing there); the `ramp_leader` gauge and the Lease
itself show the election.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, cast

from kubernetes import client

from ramp.k8s.clients import Clients, is_conflict, is_not_found


class Attempt(Enum):
    """How one try to take or renew the lease ended."""

    TAKEN = "taken"
    """This candidate holds the lease, renewed as of now."""
    HELD = "held"
    """Another candidate holds it and it has not expired."""
    RACED = "raced"
    """The Lease changed between reading and writing (409); read it again."""


@dataclass(frozen=True)
class LeaseRecord:
    """What a Lease says about its holder, as one candidate read it. Two reads that are equal
    saw no write in between (a holder's renewal changes `renewed_at`)."""

    holder: str
    """The holder's identity; empty when nobody holds it (never taken, or released)."""

    renewed_at: datetime | None
    """The holder's wall clock when it last renewed: a stamp, not a time to compare with ours."""

    duration: timedelta
    """How long after a renewal others must wait before taking the lease over."""

    acquired_at: datetime | None = None
    transitions: int = 0


HeldByOther = Callable[[LeaseRecord], bool]
"""Whether another candidate's hold on the lease still stands, as this candidate judges it;
called with every record read (it is how the candidate sees the record change)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LeaseLock:
    """One named Lease and the identity this process campaigns with."""

    clients: Clients
    namespace: str
    name: str
    identity: str
    clock: Callable[[], datetime] = utc_now
    """The wall clock that stamps renewTime and acquireTime (a test skews it)."""

    @property
    def _api(self) -> client.CoordinationV1Api:
        return client.CoordinationV1Api(self.clients.api)

    def describe(self) -> str:
        return f"lease {self.namespace}/{self.name}"

    def read(self, timeout: float) -> tuple[LeaseRecord, client.V1Lease] | None:
        """The Lease as stored, or None when it does not exist yet."""
        try:
            lease = self._api.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=timeout
            )
        except client.ApiException as e:
            if is_not_found(e):
                return None
            raise
        spec = lease.spec or client.V1LeaseSpec()
        record = LeaseRecord(
            holder=spec.holder_identity or "",
            renewed_at=_aware(spec.renew_time),
            duration=timedelta(seconds=spec.lease_duration_seconds or 0),
            acquired_at=_aware(spec.acquire_time),
            transitions=spec.lease_transitions or 0,
        )
        return record, lease

    def try_acquire_or_renew(
        self, duration: timedelta, timeout: float, held_by_other: HeldByOther
    ) -> Attempt:
        """Take the lease if it is free, already ours, or another holder's hold on it no longer
        stands (``held_by_other`` judges that), and stamp it renewed now.

        API errors other than a lost race propagate, so the caller can tell "lost" from
        "could not ask".
        """
        found = self.read(timeout)
        if found is None:
            return self._create(duration, self.clock(), timeout)
        record, lease = found
        if held_by_other(record):
            return Attempt.HELD
        now = self.clock()
        spec = lease.spec or client.V1LeaseSpec()
        ours = record.holder == self.identity
        transitions = spec.lease_transitions or 0
        body = self._body(
            holder=self.identity,
            duration=duration,
            acquired_at=_aware(spec.acquire_time) if ours else now,
            renewed_at=now,
            transitions=transitions if ours else transitions + 1,
            resource_version=_version(lease),
        )
        return Attempt.TAKEN if self._replace(body, timeout) else Attempt.RACED

    def release(self, timeout: float) -> bool:
        """Clear the holder if it is us, so a standby takes over at its next try; True if so."""
        found = self.read(timeout)
        if found is None:
            return False
        record, lease = found
        if record.holder != self.identity:
            return False
        spec = lease.spec or client.V1LeaseSpec()
        now = self.clock()
        body = self._body(
            holder=None,
            duration=timedelta(seconds=1),
            acquired_at=now,
            renewed_at=now,
            transitions=spec.lease_transitions or 0,
            resource_version=_version(lease),
        )
        return self._replace(body, timeout)

    # -- writing ------------------------------------------------------------------------------

    def _create(self, duration: timedelta, now: datetime, timeout: float) -> Attempt:
        body = self._body(
            holder=self.identity,
            duration=duration,
            acquired_at=now,
            renewed_at=now,
            transitions=0,
            resource_version=None,
        )
        try:
            self._api.create_namespaced_lease(
                self.namespace, cast(Any, body), _request_timeout=timeout
            )
        except client.ApiException as e:
            if is_conflict(e):  # 409 AlreadyExists: another candidate created it first
                return Attempt.RACED
            raise
        return Attempt.TAKEN

    def _replace(self, body: dict[str, Any], timeout: float) -> bool:
        try:
            self._api.replace_namespaced_lease(
                self.name, self.namespace, cast(Any, body), _request_timeout=timeout
            )
        except client.ApiException as e:
            if is_conflict(e):  # the resourceVersion moved on: someone else wrote it
                return False
            raise
        return True

    def _body(
        self,
        *,
        holder: str | None,
        duration: timedelta,
        acquired_at: datetime | None,
        renewed_at: datetime,
        transitions: int,
        resource_version: str | None,
    ) -> dict[str, Any]:
        # A plain body, not a V1Lease: the client would format its times with isoformat(), which
        # drops the fraction at .000000 and metav1.MicroTime then refuses the object.
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if resource_version is not None:
            metadata["resourceVersion"] = resource_version
        spec: dict[str, Any] = {
            "leaseDurationSeconds": max(1, round(duration.total_seconds())),
            "renewTime": _micro_time(renewed_at),
            "leaseTransitions": transitions,
        }
        if holder is not None:
            spec["holderIdentity"] = holder
        if acquired_at is not None:
            spec["acquireTime"] = _micro_time(acquired_at)
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }


def _version(lease: client.V1Lease) -> str | None:
    return lease.metadata.resource_version if lease.metadata is not None else None


def _micro_time(moment: datetime) -> str:
    # metav1.MicroTime insists on six fractional digits; isoformat() drops them at .000000.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
