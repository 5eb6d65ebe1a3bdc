"""One reconcile of one Rollout: read, observe, let the engine decide, apply.

Order matters for crash safety. The status is written first, over the resourceVersion the
decision was made on: it records what is about to be published before apps can read it, so the
ConfigMap never serves what no transition in status.history earned (I1). The state effects
(ConfigMap, workers, restarts) are desired state that every reconcile re-applies, so a crash
between the two heals on the next pass; until the ConfigMap serves what the status says, the
engine holds the soak clock (I10). Events and notifications wait in status.outbox and are
delivered after the write, at least once (I8).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from pydantic import ValidationError

from ramp import telemetry
from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine import (
    Decision,
    analysis_due,
    decide,
    drain_due,
    invalid_spec_status,
    next_wakeup,
    plan_writes,
    restore_on_deletion,
    worker_key,
)
from ramp.engine.effects import (
    PublishFlag,
    RestartConsumers,
    RestoreWorkers,
    ScaleWorkers,
    WorkerTarget,
)
from ramp.engine.observations import MetricSample, Observations, WorkerObservation
from ramp.engine.routine import Routine, routine_of, routine_readings_of
from ramp.engine.schedule import served_due
from ramp.engine.served import ServedReading
from ramp.k8s.clients import Clients, is_conflict, is_not_found
from ramp.k8s.configmap import (
    FLAGS_FILE,
    FlagObservation,
    FlagTaken,
    NotAFlagSet,
    desired_config_map,
    gone_rollouts,
    observe_flag,
    owners_in_doubt,
    publish_flag,
    read_config_map,
)
from ramp.k8s.events import record_event
from ramp.k8s.finalizers import FinalizersMoved, set_finalizer
from ramp.k8s.ownership import FINALIZER, MANAGED_BY, MANAGED_BY_LABEL, ROLLOUT_LABEL, key_owners
from ramp.k8s.policies import read_policy
from ramp.k8s.restarts import restart_consumers
from ramp.k8s.status import status_patch, write_status
from ramp.k8s.workers import WorkersMoved, observe_workers, scale_workers
from ramp.metrics import cohorts
from ramp.metrics.allowlist import AllowList
from ramp.metrics.provider import MetricProvider
from ramp.runtime.delivery import Deliveries
from ramp.runtime.index import BodyIndex, RolloutIndex
from ramp.runtime.notifications import Notifier
from ramp.runtime.policies import PolicyIndex
from ramp.runtime.provider_pool import ProviderConfigError, ProviderPool
from ramp.runtime.settings import OperatorSettings

logger = logging.getLogger("ramp.reconcile")

GONE = None
"""What `reconcile` returns once the Rollout no longer exists: nothing to wake up for."""

PUBLISH_RETRY = timedelta(seconds=5)
"""How soon a failed ConfigMap write is tried again."""


class Conflict(Exception):
    """The Rollout changed between reading and writing; decide again on the new version."""


@dataclass
class _ConfigMapSeen:
    """The flag ConfigMap's body as this reconcile last saw it: read once, then what each write
    returned, so a second publish in the same reconcile writes over the right version."""

    current: Mapping[str, Any] | None


def _watched(config_map: Mapping[str, Any] | None, rollout: str) -> bool:
    """Whether the ConfigMap's changes wake this Rollout: labelled as Ramp's (as those it
    creates, the ones the watch sees), and naming the Rollout as its creator or as an owner of
    keys in it (see handlers.flag_configmap_changed)."""
    if config_map is None:
        return False  # its creation by someone else would not be seen either
    meta = config_map.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
        return False
    return labels.get(ROLLOUT_LABEL) == rollout or rollout in key_owners(meta).rollouts()


@dataclass(slots=True)
class _Routine:
    """A Rollout's routine analyses (engine.routine) and what they were decided on: they hold
    while the Rollout and its ConfigMap are at these versions and the stored analysis is
    younger than the status refresh."""

    routine: Routine
    version: str
    config_map: tuple[str, str]
    config_map_version: str
    provider: MetricProvider
    refresh_by: datetime
    """When the stored readings get as old as the status refresh: then a write is due."""
    last: datetime
    """When the last analysis read its values."""
    policy: tuple[tuple[str, str], str | None] | None = None
    """The RolloutPolicy it was decided with and its resourceVersion (None: it names none)."""


@dataclass
class Reconciler:
    clients: Clients
    settings: OperatorSettings
    notifier: Notifier
    providers: ProviderPool = field(init=False)
    deliveries: Deliveries = field(init=False)
    publish_errors: dict[tuple[str, str], str] = field(default_factory=dict)
    """Why the last ConfigMap write of a Rollout failed (cleared by a successful one)."""
    index: RolloutIndex = field(default_factory=RolloutIndex)
    """The Rollouts as the watch delivered them: what each reconcile decides on."""
    config_maps: BodyIndex = field(default_factory=BodyIndex)
    """Ramp's flag ConfigMaps as the watch delivered them (and as our writes returned them)."""
    policies: PolicyIndex = field(default_factory=PolicyIndex)
    """The RolloutPolicies as the watch delivered them: resolving one reads no API."""
    routines: dict[tuple[str, str], _Routine] = field(default_factory=dict)
    """Rollouts whose next analyses are routine, until they find something else."""

    def __post_init__(self) -> None:
        allow = AllowList.parse(self.settings.prometheus_allow)
        self.providers = ProviderPool(
            self.clients,
            allow,
            reuse=self.settings.query_reuse,
            in_flight=self.settings.queries_in_flight,
        )
        self.deliveries = Deliveries(self.clients, self.notifier)

    async def reconcile(self, namespace: str, name: str) -> datetime | None:
        """Reconcile until a decision sticks; return when to come back (None: never)."""
        started = time.perf_counter()
        try:
            samples: dict[str, MetricSample] | None = None
            kept = self._routine((namespace, name))
            now = datetime.now(UTC)
            # Once the stored readings are due for their refresh, the whole decision below
            # writes them: answering "come back at the refresh" after it has passed would wake
            # this loop every min_interval until the next analysis.
            if kept is not None and now < kept.refresh_by:
                if now < kept.routine.next_at(kept.last):
                    telemetry.reconciles.labels("not_due").inc()
                    return min(kept.routine.next_at(kept.last), kept.refresh_by)
                samples = await kept.provider.evaluate(kept.routine.queries())
                wake_at = self._routine_analysis((namespace, name), kept, samples)
                if wake_at is not None:
                    telemetry.reconciles.labels("routine").inc()
                    return wake_at
            telemetry.reconciles.labels("decided").inc()
            for _ in range(5):
                try:
                    return await self._reconcile_once(namespace, name, samples)
                except Conflict:
                    # Decided on a version that is no longer current: read it again.
                    await self._refresh(namespace, name)
            return datetime.now(UTC)
        finally:
            telemetry.reconcile_seconds.observe(time.perf_counter() - started)

    async def _refresh(self, namespace: str, name: str) -> None:
        """Read the Rollout from the API server into the index (or forget it on 404)."""
        key = (namespace, name)
        try:
            fresh = await asyncio.to_thread(self.clients.get_rollout, namespace, name)
        except client.ApiException as e:
            if not is_not_found(e):
                raise
            self.index.forget(key)
            return
        self.index.store(key, fresh)

    def _routine(self, key: tuple[str, str]) -> _Routine | None:
        """The Rollout's routine, if what it was decided on still holds."""
        kept = self.routines.get(key)
        if kept is None:
            return None
        trusted = self.config_maps.confirmed_within(kept.config_map, self.settings.config_map_trust)
        if (
            self.index.version(key) != kept.version
            or trusted is None
            or trusted["metadata"].get("resourceVersion") != kept.config_map_version
            or key in self.publish_errors
            or not self.providers.holds(kept.provider)
            or (kept.policy is not None and self.policies.version(kept.policy[0]) != kept.policy[1])
        ):
            del self.routines[key]
            return None
        return kept

    def _routine_analysis(
        self, key: tuple[str, str], kept: _Routine, samples: dict[str, MetricSample]
    ) -> datetime | None:
        """Keep a routine analysis's readings unwritten, as a whole decision would; None when
        the samples are not routine (then they are decided on in full)."""
        now = datetime.now(UTC)
        readings = routine_readings_of(kept.routine, samples, now)
        if readings is None or now >= kept.refresh_by:
            del self.routines[key]
            return None
        self.index.keep_unwritten(key, kept.version, readings)
        telemetry.unwritten_analyses.inc()
        telemetry.routine_analyses.inc()
        kept.last = now
        return min(kept.routine.next_at(now), kept.refresh_by)

    async def _reconcile_once(
        self, namespace: str, name: str, samples: dict[str, MetricSample] | None = None
    ) -> datetime | None:
        key = (namespace, name)
        self.routines.pop(key, None)
        rollout = self.index.get(key)
        if rollout is None:  # deleted, as the watch said (or a 404 when read again)
            telemetry.forget(namespace, name)
            self.deliveries.forget(key)
            self.publish_errors.pop(key, None)
            return GONE
        meta: dict[str, Any] = rollout["metadata"]
        if meta.get("deletionTimestamp"):
            await self._finalize(rollout)
            return GONE
        raw_status: dict[str, Any] = rollout.get("status") or {}
        try:
            spec = RolloutSpec.model_validate(rollout.get("spec") or {})
        except (ValidationError, ValueError, OverflowError) as e:
            await asyncio.to_thread(self._report_invalid_spec, rollout, raw_status, e)
            return GONE
        version: str = meta["resourceVersion"]
        await self._look_up_policy(namespace, spec)
        spec, policy = self.policies.resolve(namespace, name, spec, version)
        unwritten = self.index.status_to_decide_on(key)
        # A routine analysis decides on the status it left unwritten and compares with the
        # stored one as it is: parsed and dumped once per version, not once per analysis.
        stored = (
            None
            if unwritten is not None and self.index.status_normalized(key, version)
            else RolloutStatus.model_validate(raw_status)
        )
        status = unwritten if unwritten is not None else stored
        assert status is not None

        workers = await self._observe_workers(namespace, spec)
        flag = await self._observe_flag(rollout, spec)
        started = datetime.now(UTC)
        metrics = await self._analyse(rollout, spec, status, started, samples)
        drains = await self._read_drains(namespace, spec, status, started)
        served = await self._observe_served(namespace, name, spec, status, started)
        # Taken after the queries answered: lastAnalysisAt says when the values were read.
        now = datetime.now(UTC)
        delivered = self.deliveries.confirmed_for(key)
        observations = Observations(
            metrics=metrics,
            served=served,
            workers=workers,
            drains=drains,
            published=flag.published,
            config_map_owner=flag.owner,
            config_map_clash=flag.clash,
            publish_error=self.publish_errors.get(key),
            delivered=delivered,
            policy=policy,
        )
        decision = decide(spec, status, now, observations, generation=meta.get("generation"))
        _observe_propagation(namespace, name, decision)
        wanted = next((e for e in decision.effects if isinstance(e, PublishFlag)), None)
        desired = decision.status.model_dump(by_alias=True, exclude_none=True, mode="json")
        if stored is None:
            current = raw_status
        else:
            current = stored.model_dump(by_alias=True, exclude_none=True, mode="json")
            if current == raw_status:
                self.index.mark_normalized(key, version)
        refresh = timedelta(seconds=self.settings.status_refresh)
        plan = plan_writes(current, desired, flag.published, wanted, refresh)
        decided = version  # the version this decision holds for: ours after a write
        lowered = False
        config_map = _ConfigMapSeen(flag.config_map)
        if plan.publish_first is not None:
            lowered = await self._publish(rollout, spec, plan.publish_first, config_map)
        if plan.status == "unchanged":
            self.index.keep_unwritten(key, version, None)
        elif plan.status == "unwritten":
            self.index.keep_unwritten(key, version, plan.readings)
            telemetry.unwritten_analyses.inc()
        else:
            patch = status_patch(raw_status, desired)
            try:
                written = await asyncio.to_thread(
                    write_status, self.clients, namespace, name, version, patch
                )
            except client.ApiException as e:
                if is_conflict(e):
                    raise Conflict from e
                if is_not_found(e):
                    self.index.forget(key)
                    return GONE
                raise
            self.index.store(key, written)  # decide next on what was written, not its echo
            decided = written["metadata"]["resourceVersion"]
            rollout["status"] = desired
            for said in decision.announced:  # counted once: the write that recorded them
                telemetry.transitions.labels(namespace, name, said.reason).inc()
                if said.reason == "RolledBack":
                    telemetry.rollbacks.labels(namespace, name).inc()
        self.deliveries.consumed(key, delivered)
        published = await self._apply_state(rollout, spec, decision, workers, config_map)
        published = published or lowered
        told = await self.deliveries.deliver(rollout, spec, decision.status)
        telemetry.observe_phase(
            namespace, name, decision.status.phase or "Pending", decision.status.percentage or 0
        )
        wake_at = next_wakeup(spec, decision.status, now)
        if not (published or told or lowered):
            self._expect_routine(key, decided, spec, decision.status, flag, config_map, now)
        if key in self.publish_errors:
            # Nothing is served and soak is held; try the write again, not every second.
            return max(wake_at or now, now + PUBLISH_RETRY)
        if published or told:
            return now  # confirm the publish and settle the outbox at once
        if wake_at is None and (spec.workers or not _watched(config_map.current, name)):
            # Nothing is due, but scale or an unlabelled ConfigMap can drift without an event
            # reaching Ramp (it watches only the ConfigMaps it created): look again later.
            return now + timedelta(seconds=self.settings.resync_interval)
        return wake_at

    def _expect_routine(
        self,
        key: tuple[str, str],
        decided: str,
        spec: RolloutSpec,
        status: RolloutStatus,
        flag: FlagObservation,
        config_map: _ConfigMapSeen,
        now: datetime,
    ) -> None:
        """After a whole decision that changed nothing outside: let the next analyses go the
        routine way (engine.routine) while it and its observations hold.

        Filed under ``decided``, the version the decision was made on (or our write of it): an
        edit that arrived while it waited on its queries or its write is newer, is not covered
        by this decision, and must be decided in full (I12)."""
        version = self.index.version(key)
        stored = (self.index.bodies.get(key) or {}).get("status") or {}
        analysed = stored.get("lastAnalysisAt")
        observed_map = flag.config_map
        if (
            version is None
            or version != decided
            or analysed is None
            or observed_map is None
            or flag.owner is not None
            or key in self.publish_errors
            or self.settings.status_refresh <= 0
            or spec.analysis is None
            or spec.analysis.prometheus.authorization is not None  # a Secret read each time
            or spec.analysis.served is not None  # the instances' shares are read every time
            or not _watched(config_map.current, key[1])
            or config_map.current is not observed_map
            or status.last_analysis_at is None
        ):
            return
        routine = routine_of(spec, status, now)
        if routine is None:
            return
        try:
            provider = self.providers.provider_for(key[0], spec)
        except (ProviderConfigError, ValueError):
            return  # its analyses are errors, never routine
        self.routines[key] = _Routine(
            routine=routine,
            version=version,
            config_map=(key[0], spec.flag.config_map),
            config_map_version=observed_map["metadata"].get("resourceVersion"),
            provider=provider,
            refresh_by=datetime.fromisoformat(analysed)
            + timedelta(seconds=self.settings.status_refresh),
            last=status.last_analysis_at,
            policy=self.policies.version_of(key[0], spec),
        )

    async def _look_up_policy(self, namespace: str, spec: RolloutSpec) -> None:
        """Read a policy the watch has not delivered, once: just after a start the Rollouts'
        events may come before the policies', and a policy taken for missing would pause its
        Rollouts for nothing. From then on the watch tells every change."""
        if spec.policy is None:
            return
        key = (namespace, spec.policy)
        if key in self.policies or key in self.policies.looked_up:
            return
        body = await asyncio.to_thread(read_policy, self.clients, namespace, spec.policy)
        self.policies.looked_up.add(key)
        if body is not None:
            self.policies.store(key, body)

    async def _analyse(
        self,
        rollout: dict[str, Any],
        spec: RolloutSpec,
        status: RolloutStatus,
        now: datetime,
        samples: dict[str, MetricSample] | None = None,
    ) -> dict[str, MetricSample] | None:
        analysis = spec.analysis
        if analysis is None or not analysis.metrics or not analysis_due(spec, status, now):
            return None
        meta = rollout["metadata"]
        if samples is None:  # else read by a routine analysis that found something else
            try:
                provider = await self._provider(meta["namespace"], spec)
            except (ProviderConfigError, ValueError) as e:
                return {m.name: MetricSample(error=str(e)) for m in analysis.metrics}
            samples = await provider.evaluate(
                {m.name: m.query for m in analysis.metrics if m.query}
            )
            samples.update(await cohorts.evaluate(provider, spec, status, now))
        for metric, sample in samples.items():
            if sample.error is not None:
                telemetry.query_errors.labels(meta["namespace"], meta["name"], metric).inc()
        return samples

    async def _read_drains(
        self, namespace: str, spec: RolloutSpec, status: RolloutStatus, now: datetime
    ) -> dict[str, MetricSample] | None:
        """Each draining worker's drain query, on the analysis interval (engine.drain_due),
        from the same Prometheus as the analysis."""
        if not drain_due(spec, status, now):
            return None
        queries = {
            key: worker.drain.query
            for worker in spec.workers or []
            if worker.drain is not None and (key := worker_key(worker)) in (status.drains or {})
        }
        try:
            provider = await self._provider(namespace, spec)
        except (ProviderConfigError, ValueError) as e:
            return {key: MetricSample(error=str(e)) for key in queries}
        return await provider.evaluate(queries)

    async def _observe_served(
        self, namespace: str, name: str, spec: RolloutSpec, status: RolloutStatus, now: datetime
    ) -> ServedReading | None:
        """What each instance serves, by its `instance` label (spec.analysis.served)."""
        analysis = spec.analysis
        if analysis is None or analysis.served is None or not served_due(spec, status, now):
            return None
        series = analysis.served.selector(spec.flag.key)
        try:
            provider = await self._provider(namespace, spec)
            values = await asyncio.to_thread(
                provider.by_label, f"max by (instance) ({series})", "instance", now
            )
        except (ProviderConfigError, ValueError, RuntimeError) as e:
            telemetry.query_errors.labels(namespace, name, "served").inc()
            return ServedReading(series, error=str(e))
        return ServedReading(series, values)

    # A thread only for what calls the API: most analyses call none, and a hop to a thread and
    # back costs more CPU than the analysis's own decision. Each helper below decides for itself.

    async def _observe_workers(
        self, namespace: str, spec: RolloutSpec
    ) -> dict[str, WorkerObservation]:
        if not spec.workers:
            return {}
        return await asyncio.to_thread(observe_workers, self.clients, namespace, spec)

    async def _observe_flag(self, rollout: dict[str, Any], spec: RolloutSpec) -> FlagObservation:
        """From the watched ConfigMap while its watch is trusted, else read from the API. Other
        Rollouts it names as owners count only while they exist: the watch's index says so, or
        else the API server."""
        namespace, name = rollout["metadata"]["namespace"], rollout["metadata"]["name"]
        key = (namespace, spec.flag.config_map)
        current = self.config_maps.confirmed_within(key, self.settings.config_map_trust)
        read = current is None
        if read:
            current = await asyncio.to_thread(
                read_config_map, self.clients, namespace, spec.flag.config_map
            )
        doubtful = owners_in_doubt(name, current, lambda n: (namespace, n) in self.index)
        gone = frozenset[str]()
        if doubtful:  # rare: a Rollout created or deleted a moment ago
            gone = await asyncio.to_thread(gone_rollouts, self.clients, namespace, doubtful)
        flag = observe_flag(rollout, spec, current, gone)
        if read and current is not None and _watched(current, name):
            # As good as a watch event: trusted for another while, not read every analysis.
            self.config_maps.store(key, current)
        return flag

    async def _provider(self, namespace: str, spec: RolloutSpec) -> MetricProvider:
        assert spec.analysis is not None
        if spec.analysis.prometheus.authorization is None:  # no Secret to read
            return self.providers.provider_for(namespace, spec)
        return await asyncio.to_thread(self.providers.provider_for, namespace, spec)

    async def _apply_state(
        self,
        rollout: dict[str, Any],
        spec: RolloutSpec,
        decision: Decision,
        workers: dict[str, WorkerObservation],
        config_map: _ConfigMapSeen,
    ) -> bool:
        """Make the effects true; True when the ConfigMap was written."""
        namespace = rollout["metadata"]["namespace"]
        published = False
        for effect in decision.effects:
            if isinstance(effect, PublishFlag):
                published = await self._publish(rollout, spec, effect, config_map)
            elif isinstance(effect, ScaleWorkers):
                await self._ensure_finalizer(rollout, present=True)
                await self._scale(namespace, spec, effect.targets, workers)
            elif isinstance(effect, RestoreWorkers):
                await self._scale(namespace, spec, effect.originals, workers)
            elif isinstance(effect, RestartConsumers):
                restarted, missing = await asyncio.to_thread(
                    restart_consumers, self.clients, namespace, spec, effect.revision
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
            await self._ensure_finalizer(rollout, present=False)
        return published

    async def _scale(
        self,
        namespace: str,
        spec: RolloutSpec,
        targets: Mapping[str, WorkerTarget],
        workers: dict[str, WorkerObservation],
    ) -> None:
        """Patch worker scale over what was observed; a worker changed since then is observed
        and decided on again, like the Rollout itself after a conflict."""
        try:
            await asyncio.to_thread(scale_workers, self.clients, namespace, spec, targets, workers)
        except WorkersMoved as e:
            raise Conflict from e

    async def _publish(
        self,
        rollout: dict[str, Any],
        spec: RolloutSpec,
        effect: PublishFlag,
        config_map: _ConfigMapSeen,
    ) -> bool:
        """Merge the flag into the ConfigMap where it differs; True when it wrote. A failure is
        remembered for the Published condition, not raised: the engine holds the soak
        meanwhile. Another Rollout taking the keys meanwhile is a conflict: decided anew."""
        namespace, name = rollout["metadata"]["namespace"], rollout["metadata"]["name"]
        key = (namespace, name)
        config_map_key = (namespace, spec.flag.config_map)
        current = config_map.current
        indexed = lambda n: (namespace, n) in self.index  # noqa: E731
        try:
            # Owners in doubt taken as gone: if that changes nothing, nothing is to write;
            # else publish_flag asks the API server about them.
            doubtful = owners_in_doubt(name, current, indexed)
            unchanged = current is not None and (
                desired_config_map(rollout, spec, effect, current, doubtful) is None
            )
        except NotAFlagSet:
            unchanged = False  # publish_flag says what is wrong
        if unchanged:
            self.publish_errors.pop(key, None)  # it serves the flag: nothing failed to write
            return False
        try:
            published, written = await asyncio.to_thread(
                publish_flag, self.clients, rollout, spec, effect, current, indexed
            )
        except FlagTaken as e:
            self.config_maps.forget(config_map_key)
            raise Conflict from e
        except (client.ApiException, NotAFlagSet) as e:
            if is_conflict(e):
                # Still written over by others after every merge: read it next time.
                self.config_maps.forget(config_map_key)
                raise Conflict from e
            if isinstance(e, NotAFlagSet):
                why = f"its {FLAGS_FILE} is not a flagd flag set ({e}); fix or remove that key"
            else:
                why = f"{e.reason} (HTTP {e.status})"
            problem = (
                f"cannot write ConfigMap {namespace}/{spec.flag.config_map}: {why}; "
                "the soak waits until it serves the flag"
            )
            if self.publish_errors.get(key) != problem:
                logger.warning("%s/%s: %s", *key, problem)
            self.publish_errors[key] = problem
            return False
        self.publish_errors.pop(key, None)
        config_map.current = written
        if published and written is not None and _watched(written, name):
            # Decide next on what was written, not on the version before it (its echo from
            # the watch may come later).
            self.config_maps.store(config_map_key, written)
        return published

    async def _ensure_finalizer(self, rollout: dict[str, Any], present: bool) -> None:
        meta = rollout["metadata"]
        if (FINALIZER in (meta.get("finalizers") or [])) == present:
            return
        try:
            await asyncio.to_thread(
                set_finalizer, self.clients, meta["namespace"], meta["name"], FINALIZER, present
            )
        except FinalizersMoved as e:
            raise Conflict from e
        finalizers = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        meta["finalizers"] = [*finalizers, FINALIZER] if present else finalizers

    async def _finalize(self, rollout: dict[str, Any]) -> None:
        """The Rollout is being deleted: put worker scale back, then let it go."""
        if FINALIZER not in (rollout["metadata"].get("finalizers") or []):
            return
        await asyncio.to_thread(self._restore_workers, rollout)
        await self._ensure_finalizer(rollout, present=False)

    def _restore_workers(self, rollout: dict[str, Any]) -> None:
        meta = rollout["metadata"]
        try:
            spec = RolloutSpec.model_validate(rollout.get("spec") or {})
            status = RolloutStatus.model_validate(rollout.get("status") or {})
        except ValidationError:
            spec = None
        if spec is not None and status.worker_originals:
            workers = observe_workers(self.clients, meta["namespace"], spec)
            originals = restore_on_deletion(spec, status, workers)
            if not originals:
                return
            scale_workers(self.clients, meta["namespace"], spec, originals, workers)
            record_event(
                self.clients,
                rollout,
                "Normal",
                "WorkersRestored",
                "Rollout deleted: worker scale restored to its original values",
            )

    def _report_invalid_spec(
        self, rollout: dict[str, Any], raw_status: dict[str, Any], error: Exception
    ) -> None:
        """Admission should have caught it; if not (an older CRD), say which field is wrong."""
        meta = rollout["metadata"]
        if isinstance(error, ValidationError):
            problems = "; ".join(
                f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
            )
        else:
            problems = f"spec: {error}"
        patch = invalid_spec_status(raw_status, problems, meta.get("generation"))
        if patch is None:
            return
        try:
            write_status(
                self.clients, meta["namespace"], meta["name"], meta["resourceVersion"], patch
            )
        except client.ApiException as e:
            if is_conflict(e):
                raise Conflict from e
            if is_not_found(e):
                return
            raise
        record_event(self.clients, rollout, "Warning", "InvalidSpec", problems)


def _observe_propagation(namespace: str, name: str, decision: Decision) -> None:
    """ramp_flag_propagation_seconds: the Served entries this decision added to history."""
    told = {a.seq for a in decision.announced}
    for entry in decision.status.history or []:
        if entry.seq in told and entry.propagation_seconds is not None:
            telemetry.propagation_seconds.labels(namespace, name).observe(entry.propagation_seconds)
