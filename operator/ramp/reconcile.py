"""One reconcile of one Rollout: read, observe, let the engine decide, apply.

Order matters for crash safety. The status is written first, over the resourceVersion the
decision was made on; the state effects (ConfigMap, workers, restarts) are desired state that
every reconcile re-applies, so a crash between the two heals on the next pass; Events and
notifications go last and only for the decision that made the transition, so none is repeated.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from pydantic import ValidationError

from ramp import telemetry
from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine import Decision, analysis_due, decide, next_wakeup
from ramp.engine.effects import (
    Notify,
    PublishFlag,
    RecordEvent,
    RestartConsumers,
    RestoreWorkers,
    ScaleWorkers,
)
from ramp.engine.observations import MetricSample, Observations, WorkerObservation
from ramp.k8s.clients import Clients, is_conflict, is_not_found
from ramp.k8s.configmap import publish_flag
from ramp.k8s.events import record_event
from ramp.k8s.ownership import FINALIZER
from ramp.k8s.restarts import restart_consumers
from ramp.k8s.status import patch_finalizers, status_patch, write_status
from ramp.k8s.workers import observe_workers, scale_workers
from ramp.metrics.prometheus import PrometheusProvider
from ramp.notifications import Notifier, build_payload
from ramp.settings import OperatorSettings

logger = logging.getLogger("ramp.reconcile")

GONE = None
"""What `reconcile` returns once the Rollout no longer exists: nothing to wake up for."""


class Conflict(Exception):
    """The Rollout changed between reading and writing; decide again on the new version."""


@dataclass
class Reconciler:
    clients: Clients
    settings: OperatorSettings
    notifier: Notifier
    providers: dict[tuple[str, str, bool, float], PrometheusProvider] = field(default_factory=dict)

    async def reconcile(self, namespace: str, name: str) -> datetime | None:
        """Reconcile until a decision sticks; return when to come back (None: never)."""
        started = time.perf_counter()
        try:
            for _ in range(5):
                try:
                    return await self._reconcile_once(namespace, name)
                except Conflict:
                    continue
            return datetime.now(UTC)
        finally:
            telemetry.reconcile_seconds.observe(time.perf_counter() - started)

    async def _reconcile_once(self, namespace: str, name: str) -> datetime | None:
        try:
            rollout = await asyncio.to_thread(self.clients.get_rollout, namespace, name)
        except client.ApiException as e:
            if is_not_found(e):
                telemetry.forget(namespace, name)
                return GONE
            raise
        meta: dict[str, Any] = rollout["metadata"]  # type: ignore[assignment]
        if meta.get("deletionTimestamp"):
            await asyncio.to_thread(self._finalize, rollout)
            return GONE
        raw_status: dict[str, Any] = rollout.get("status") or {}  # type: ignore[assignment]
        try:
            spec = RolloutSpec.model_validate(rollout.get("spec") or {})
        except ValidationError as e:
            await asyncio.to_thread(self._report_invalid_spec, rollout, raw_status, e)
            return GONE
        status = RolloutStatus.model_validate(raw_status)
        now = datetime.now(UTC)

        workers = await asyncio.to_thread(observe_workers, self.clients, namespace, spec)
        metrics = await self._analyse(rollout, spec, status, now)
        decision = decide(
            spec,
            status,
            now,
            Observations(metrics=metrics, workers=workers),
            generation=meta.get("generation"),
        )
        desired = decision.status.model_dump(by_alias=True, exclude_none=True, mode="json")
        current = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        if desired != current:
            patch = status_patch(raw_status, desired)
            try:
                await asyncio.to_thread(
                    write_status, self.clients, namespace, name, meta["resourceVersion"], patch
                )
            except client.ApiException as e:
                if is_conflict(e):
                    raise Conflict from e
                if is_not_found(e):
                    return GONE
                raise
            rollout["status"] = desired
            meta["resourceVersion"] = None
        await asyncio.to_thread(self._apply_state, rollout, spec, decision, workers)
        await self._announce(rollout, spec, decision)
        telemetry.observe_phase(
            namespace, name, decision.status.phase or "Pending", decision.status.percentage or 0
        )
        return next_wakeup(spec, decision.status, now)

    async def _analyse(
        self, rollout: dict[str, Any], spec: RolloutSpec, status: RolloutStatus, now: datetime
    ) -> dict[str, MetricSample] | None:
        analysis = spec.analysis
        if analysis is None or not analysis.metrics or not analysis_due(spec, status, now):
            return None
        meta = rollout["metadata"]
        try:
            provider = await asyncio.to_thread(self._provider, meta["namespace"], spec)
        except ProviderConfigError as e:
            return {m.name: MetricSample(error=str(e)) for m in analysis.metrics}
        samples = await provider.evaluate({m.name: m.query for m in analysis.metrics})
        for metric, sample in samples.items():
            if sample.error is not None:
                telemetry.query_errors.labels(meta["namespace"], meta["name"], metric).inc()
        return samples

    def _provider(self, namespace: str, spec: RolloutSpec) -> PrometheusProvider:
        assert spec.analysis is not None
        prometheus = spec.analysis.prometheus
        headers: dict[str, str] = {}
        auth = getattr(prometheus, "authorization", None)
        if auth is not None:
            headers["Authorization"] = self._secret_value(namespace, auth.secret_ref)
        timeout = prometheus.timeout_seconds
        insecure = bool(getattr(prometheus, "insecure_skip_verify", False))
        key = (prometheus.address, headers.get("Authorization", ""), insecure, timeout)
        provider = self.providers.get(key)
        if provider is None:
            provider = PrometheusProvider(
                prometheus.address,
                timeout=timeout,
                headers=headers,
                insecure_skip_verify=insecure,
            )
            self.providers[key] = provider
        return provider

    def _secret_value(self, namespace: str, ref: Any) -> str:
        try:
            secret = self.clients.core.read_namespaced_secret(ref.name, namespace)
        except client.ApiException as e:
            raise ProviderConfigError(
                f"cannot read Secret {namespace}/{ref.name}: {e.reason}"
            ) from e
        data = secret.data or {}
        if ref.key not in data:
            raise ProviderConfigError(f"Secret {namespace}/{ref.name} has no key {ref.key!r}")
        return base64.b64decode(data[ref.key]).decode().strip()

    def _apply_state(
        self,
        rollout: dict[str, Any],
        spec: RolloutSpec,
        decision: Decision,
        workers: dict[str, WorkerObservation],
    ) -> None:
        namespace = rollout["metadata"]["namespace"]
        for effect in decision.effects:
            if isinstance(effect, PublishFlag):
                publish_flag(self.clients, rollout, spec, effect)
            elif isinstance(effect, ScaleWorkers):
                self._ensure_finalizer(rollout, present=True)
                scale_workers(self.clients, namespace, spec, effect.targets, workers)
            elif isinstance(effect, RestoreWorkers):
                scale_workers(self.clients, namespace, spec, effect.originals, workers)
            elif isinstance(effect, RestartConsumers):
                restarted, missing = restart_consumers(
                    self.clients, namespace, spec, effect.revision
                )
                for workload in restarted:
                    logger.info("restarted %s for flag revision %s", workload, effect.revision)
                for workload in missing:
                    logger.warning(
                        "%s/%s: spec.flag.restartOnChange names %s, which does not exist",
                        namespace,
                        rollout["metadata"]["name"],
                        workload,
                    )
        if not decision.status.worker_originals:
            self._ensure_finalizer(rollout, present=False)

    def _ensure_finalizer(self, rollout: dict[str, Any], present: bool) -> None:
        meta = rollout["metadata"]
        finalizers: list[str] = list(meta.get("finalizers") or [])
        if (FINALIZER in finalizers) == present:
            return
        wanted = [*finalizers, FINALIZER] if present else [f for f in finalizers if f != FINALIZER]
        fresh = self.clients.get_rollout(meta["namespace"], meta["name"])
        patch_finalizers(
            self.clients,
            meta["namespace"],
            meta["name"],
            fresh["metadata"]["resourceVersion"],  # type: ignore[index]
            wanted,
        )
        meta["finalizers"] = wanted

    def _finalize(self, rollout: dict[str, Any]) -> None:
        """The Rollout is being deleted: put worker scale back, then let it go."""
        meta = rollout["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return
        try:
            spec = RolloutSpec.model_validate(rollout.get("spec") or {})
            status = RolloutStatus.model_validate(rollout.get("status") or {})
        except ValidationError:
            spec = None
        if spec is not None and status.worker_originals:
            seen = observe_workers(self.clients, meta["namespace"], spec)
            originals = {key: value.to_target() for key, value in status.worker_originals.items()}
            scale_workers(self.clients, meta["namespace"], spec, originals, seen)
            record_event(
                self.clients,
                rollout,
                "Normal",
                "WorkersRestored",
                "Rollout deleted: worker scale restored to its original values",
            )
        self._ensure_finalizer(rollout, present=False)

    def _report_invalid_spec(
        self, rollout: dict[str, Any], raw_status: dict[str, Any], error: ValidationError
    ) -> None:
        """Admission should have caught it; if not (an older CRD), say which field is wrong."""
        meta = rollout["metadata"]
        problems = "; ".join(
            f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        if raw_status.get("phase") == "Failed" and raw_status.get("message") == problems:
            return
        write_status(
            self.clients,
            meta["namespace"],
            meta["name"],
            meta["resourceVersion"],
            {"phase": "Failed", "message": problems, "observedGeneration": meta.get("generation")},
        )
        record_event(self.clients, rollout, "Warning", "InvalidSpec", problems)

    async def _announce(
        self, rollout: dict[str, Any], spec: RolloutSpec, decision: Decision
    ) -> None:
        meta = rollout["metadata"]
        for effect in decision.effects:
            if isinstance(effect, RecordEvent):
                await asyncio.to_thread(
                    record_event, self.clients, rollout, effect.type, effect.reason, effect.message
                )
                telemetry.transitions.labels(meta["namespace"], meta["name"], effect.reason).inc()
                if effect.reason in ("RolledBack", "Aborted"):
                    telemetry.rollbacks.labels(meta["namespace"], meta["name"]).inc()
            elif isinstance(effect, Notify):
                await self._notify(rollout, spec, effect)

    async def _notify(self, rollout: dict[str, Any], spec: RolloutSpec, effect: Notify) -> None:
        meta = rollout["metadata"]
        for target in spec.notifications or []:
            if target.on and effect.transition not in target.on:
                continue
            label = f"Secret {meta['namespace']}/{target.secret_ref.name}[{target.secret_ref.key}]"
            try:
                url = await asyncio.to_thread(
                    self._secret_value, meta["namespace"], target.secret_ref
                )
            except ProviderConfigError as e:
                logger.error("notification %s not sent: %s", effect.transition, e)
                continue
            payload = build_payload(
                namespace=meta["namespace"],
                name=meta["name"],
                transition=effect.transition,
                message=effect.message,
                phase=effect.phase,
                percentage=effect.percentage,
                metric=effect.metric,
            )
            self.notifier.notify(url, payload, label=label)


class ProviderConfigError(Exception):
    """A Secret the rollout points at is missing or lacks the key."""
