"""What the shell must make true after a decision. Effects are data; the engine never acts.

State effects (PublishFlag, ScaleWorkers, RestoreWorkers, RestartConsumers) describe the desired
state and are safe to apply on every reconcile: the shell compares and writes only differences.
RecordEvent and Notify are one-shot and are emitted only on the decision that makes a transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class PublishFlag:
    """The ConfigMap must carry these values (env keys and flags.json)."""

    enabled: bool
    percentage: float


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


@dataclass(frozen=True)
class RecordEvent:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class Notify:
    """A transition to announce on the webhooks of `spec.notifications` that subscribe to it."""

    transition: str
    message: str
    phase: str | None
    percentage: float
    metric: str | None = None


Effect = PublishFlag | ScaleWorkers | RestoreWorkers | RestartConsumers | RecordEvent | Notify
