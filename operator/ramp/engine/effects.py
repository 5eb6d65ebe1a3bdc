"""What the shell must make true after a decision. Effects are data; the engine never acts.

Effects describe the desired state and are safe to apply on every reconcile: the shell compares
and writes only differences. What must be told (Events, webhook notifications) is not an effect:
it is kept in `status.outbox` until each delivery is confirmed, so a crash cannot lose it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ramp.flags import DEFAULT_SCHEME


@dataclass(frozen=True)
class PublishFlag:
    """The ConfigMap must carry these values (env keys and flags.json)."""

    enabled: bool
    percentage: float
    bucketing: str = DEFAULT_SCHEME
    """The scheme flags.json is written for (ramp.flags.SCHEMES): with the percentage, it
    decides which users get the feature (engine/bucketing.py says which one is in force)."""
    audiences: tuple[str, ...] = ()
    """Audiences (spec.flag.audiences, by name) whose members get the feature whatever the
    percentage: flags.json carries them as targeting around the fractional (k8s/flagd.py)."""


@dataclass(frozen=True)
class WorkerTarget:
    """Desired scale of one worker; None leaves that field as it is."""

    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None


@dataclass(frozen=True)
class ScaleWorkers:
    """Each named worker must have this scale (keys as in ``Observations.workers``)."""

    targets: Mapping[str, WorkerTarget] = field(default_factory=dict)


@dataclass(frozen=True)
class RestoreWorkers:
    """Put back the values each worker had before Ramp first scaled it."""

    originals: Mapping[str, WorkerTarget] = field(default_factory=dict)


@dataclass(frozen=True)
class RestartConsumers:
    """`spec.flag.restartOnChange` workloads must carry this revision in their pod template.

    The revision is a digest of the published env values, so it changes exactly when they do.
    """

    revision: str


Effect = PublishFlag | ScaleWorkers | RestoreWorkers | RestartConsumers
