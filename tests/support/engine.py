"""Builders for engine tests: specs from short dicts, a clock, and one-step driving."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine import (
    Decision,
    Observations,
    PublishFlag,
    RestoreWorkers,
    ScaleWorkers,
    WorkerObservation,
    analysis_due,
    decide,
    delivery_key,
    pending_deliveries,
)
from ramp.engine.actions import Action, plan_action
from ramp.engine.observations import MetricSample, PolicyObservation
from ramp.engine.schedule import drain_due

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_spec(phases: list[dict[str, Any]] | None = None, **spec: Any) -> RolloutSpec:
    return RolloutSpec.model_validate(
        {
            "flag": {"key": "feature", "configMap": "feature-flag"},
            "phases": phases
            or [
                {"name": "canary", "percentage": 5, "duration": "10m"},
                {"name": "half", "percentage": 50, "duration": "10m"},
                {"name": "all", "percentage": 100},
            ],
            **spec,
        }
    )


def analysis(*metrics: dict[str, Any], interval: str = "30s", **extra: Any) -> dict[str, Any]:
    return {
        "interval": interval,
        "prometheus": {"address": "http://prometheus:9090"},
        "metrics": list(metrics),
        **extra,
    }


def errors_metric(**extra: Any) -> dict[str, Any]:
    return {"name": "errors", "query": "sum(errors)", "critical": {"above": 0.05}, **extra}


def delivered(status: RolloutStatus) -> frozenset[str]:
    """Every pending delivery of the outbox, as a shell that delivers at once confirms them."""
    return frozenset(delivery_key(a, t) for a, t in pending_deliveries(status.outbox))


class Run:
    """A rollout driven step by step, the way the operator drives it: decide, store the status,
    publish the ConfigMap, and decide again at once when the publish changed what it serves."""

    def __init__(
        self,
        spec: RolloutSpec,
        *,
        workers: Mapping[str, WorkerObservation] | None = None,
        scales: bool = False,
    ):
        self.spec = spec
        self.status = RolloutStatus()
        self.now = T0
        self.workers = dict(workers or {})
        self.scales = scales
        """Whether the workers take the scale each decision sets, as the shell makes them."""
        self.decisions: list[Decision] = []
        self.config_map: PublishFlag | None = None
        """What the simulated ConfigMap serves."""
        self.generation: int | None = None
        """metadata.generation of the Rollout; a new value is a spec change."""
        self.policy: PolicyObservation | None = None
        """The RolloutPolicy as the shell resolved it (engine.effective)."""

    def step(
        self,
        after: timedelta = timedelta(0),
        metrics: Mapping[str, float | str | MetricSample | None] | None = None,
        drains: float | str | MetricSample | None = None,
    ) -> Decision:
        """Advance the clock and reconcile once; metrics are used only when analysis is due,
        ``drains`` (every draining worker's drain query) only when a drain reading is."""
        self.now += after
        samples = None
        if metrics is not None and analysis_due(self.spec, self.status, self.now):
            samples = {name: _sample(v) for name, v in metrics.items()}
        readings = None
        if drains is not None and drain_due(self.spec, self.status, self.now):
            readings = {key: _sample(drains) for key in self.status.drains or {}}
        decision = self._decide(samples, readings)
        flag = next(e for e in decision.effects if isinstance(e, PublishFlag))
        if flag != self.config_map:
            self.config_map = flag
            decision = self._decide(None)
        return decision

    def _decide(
        self,
        samples: Mapping[str, MetricSample] | None,
        drains: Mapping[str, MetricSample] | None = None,
    ) -> Decision:
        seen = Observations(
            metrics=samples,
            workers=self.workers,
            drains=drains,
            published=self.config_map,
            delivered=delivered(self.status),
            policy=self.policy,
        )
        decision = decide(self.spec, self.status, self.now, seen, generation=self.generation)
        self.status = decision.status
        self.decisions.append(decision)
        if self.scales:
            self.workers = scaled(self.workers, decision)
        return decision

    def run_for(
        self, total: timedelta, every: timedelta, metrics: Mapping[str, float | str | None]
    ) -> None:
        end = self.now + total
        while self.now < end:
            self.step(every, metrics)

    @property
    def phase(self) -> str | None:
        return self.status.phase

    @property
    def published(self) -> PublishFlag:
        effect = next(e for e in self.decisions[-1].effects if isinstance(e, PublishFlag))
        return effect

    def reasons(self) -> list[str]:
        return [a.reason for d in self.decisions for a in d.announced]

    def act(self, action: Action) -> None:
        """What `ramp <action>` writes into status.control, at the run's clock."""
        data = self.status.model_dump(by_alias=True, exclude_none=True, mode="json")
        plan = plan_action(action, "rollout", data, self.now)
        self.with_control(**plan.control_patch)

    def with_control(self, **control: Any) -> None:
        data = self.status.model_dump(by_alias=True, exclude_none=True, mode="json")
        data["control"] = {**(data.get("control") or {}), **control}
        self.status = RolloutStatus.model_validate(data)


def scaled(
    workers: Mapping[str, WorkerObservation], decision: Decision
) -> dict[str, WorkerObservation]:
    """The workers once the shell made the decision's worker effects true."""
    result = dict(workers)
    for effect in decision.effects:
        if isinstance(effect, ScaleWorkers | RestoreWorkers):
            targets = effect.targets if isinstance(effect, ScaleWorkers) else effect.originals
            for key, target in targets.items():
                now = result.get(key, WorkerObservation())
                result[key] = WorkerObservation(
                    replicas=now.replicas if target.replicas is None else target.replicas,
                    min_replicas=(
                        now.min_replicas if target.min_replicas is None else target.min_replicas
                    ),
                    max_replicas=(
                        now.max_replicas if target.max_replicas is None else target.max_replicas
                    ),
                )
    return result


def _sample(value: float | str | MetricSample | None) -> MetricSample:
    if isinstance(value, MetricSample):
        return value
    if value == "error":
        return MetricSample(error="connection refused")
    assert not isinstance(value, str)
    return MetricSample(value=value)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)
