"""Model-based test of the engine: the safety invariants (tests/support/invariants.py) hold
whatever interleaving of spec edits, CLI actions, metric values, clock, crashes and operator
restarts happens.

The model plays the shell the way the operator does: read the stored status, evaluate the
metrics when `analysis_due` says so, `decide`, and apply the decision in the order the engine
plans it (`plan_writes`): a decrease is served first, then the status is written, then the
ConfigMap published. A status that differs from the stored one only by a routine re-analysis
(`may_stay_unwritten`)
stays in memory on top of the stored version, as the operator keeps it: a person's action or
spec edit (a new resourceVersion) and a restart lose it. After a whole decision that published
and announced nothing, the next analyses go the routine way while they find what it allows
(`engine.routine`: readings only, no whole decision), as the operator takes them; each one is
checked against the whole decision on the same inputs.
A crash can fall between the status write and the publish (the status is stored, the ConfigMap
is not updated) or before the status write (nothing is stored but a decrease served first).
What survives a restart is the status as the API server stores it (JSON). After every step
the model records a `Moment` and checks every invariant over the whole trace.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pydantic import ValidationError

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine import (
    Decision,
    Observations,
    PublishFlag,
    WorkerObservation,
    WritePlan,
    analysis_due,
    decide,
    drain_due,
    plan_writes,
)
from ramp.engine.actions import ActionNotApplicable, plan_action
from ramp.engine.observations import MetricSample
from ramp.engine.routine import Routine, routine_of, routine_readings_of
from ramp.engine.schedule import served_due
from ramp.engine.served import ServedReading
from ramp.flags import SCHEMES
from ramp.flags.bucketing import LEGACY_SCHEME
from tests.support.engine import T0, delivered, scaled
from tests.support.invariants import (
    Analysed,
    Breaching,
    DrainReading,
    Moment,
    PersonAction,
    check_trace,
    exposure,
)
from tests.support.windows import freezes, promotion_windows

OBSERVES_PUBLISHED = "published" in {f.name for f in dataclasses.fields(Observations)}
"""The engine is told what the ConfigMap serves (issue 9); older engines are not."""

WORLDS = ("healthy", "breaching", "no data", "error")
"""What Prometheus answers for every metric until the world changes."""

WORLD_CHANGES = st.sampled_from(("healthy", "healthy", "breaching", *WORLDS))
"""Mostly healthy or breaching, so that rollouts get far and breaches happen there."""

SAMPLES = {
    "healthy": MetricSample(value=0.1),
    "breaching": MetricSample(value=0.9),  # above every critical and warning bound below
    "no data": MetricSample(),
    "error": MetricSample(error="connection refused"),
}

WORKER = "jobs"
"""The queue worker of specs that have one: 1 replica of its own, phase i scales it to i + 2."""

BACKLOGS = {
    "queued": MetricSample(value=120.0),
    "drained": MetricSample(value=0.0),
    "no data": MetricSample(),
    "error": MetricSample(error="connection refused"),
}
"""What the worker's drain query answers until the backlog changes."""

PERCENTAGES = (0, 5, 10, 25, 50, 75, 100)
"""Phase percentages an edit may set (0 too); new specs start from the non-zero ones."""
DURATIONS = ("0s", "30s", "1m", "5m")
INSTANCES = 3
SERVED_SERIES = 'ramp_flag_served_percentage{feature_flag_key="feature"}'


AUDIENCES = [
    {"name": "internal", "attribute": "email", "endsWith": ["@example.com"]},
    {"name": "beta", "in": ["user-1017", "user-2203"]},
]
"""The audiences a generated spec may define (spec.flag.audiences)."""
AUDIENCE_STEPS = ((), ("internal",), ("internal", "beta"))
"""Audiences a phase may name, each including the one before (admission's rule)."""


@st.composite
def phase_lists(draw: st.DrawFn, audiences: bool = False) -> list[dict[str, Any]]:
    count = draw(st.sampled_from((1, 2, 3, 3, 4)))
    percentages = sorted(
        draw(st.lists(st.sampled_from(PERCENTAGES[1:]), min_size=count, max_size=count))
    )
    steps = [0] * count
    if audiences:
        # Internal accounts, then beta users, then percentages, as the runbooks go: leading
        # phases at 0 % serve audiences only, and each phase keeps the audiences before it.
        leading = draw(st.sampled_from((0, 1, 2, 2)))
        percentages = [0] * leading + percentages
        drawn = draw(st.lists(st.integers(0, 2), min_size=len(percentages)))
        steps = sorted(drawn[: len(percentages)])
        if leading:
            steps = [max(step, 1) for step in steps]
    phases = []
    for i, pct in enumerate(percentages):
        phase: dict[str, Any] = {
            "name": f"p{i}",
            "percentage": pct,
            "duration": draw(st.sampled_from(("0s", *DURATIONS))),
            "approval": draw(st.sampled_from(("Automatic", "Automatic", "Manual"))),
        }
        if steps[i] and pct < 100:
            phase["audiences"] = list(AUDIENCE_STEPS[steps[i]])
        phases.append(phase)
    return phases


@st.composite
def worker_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Often none; else a queue worker with a drain (issue 26), whose phases scale it up."""
    if not draw(st.booleans()):
        return {}
    timeout = draw(st.sampled_from(("1m", "10m")))
    return {
        "workers": [{"deployment": WORKER, "drain": {"query": "sum(queue)", "timeout": timeout}}]
    }


@st.composite
def spec_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A Rollout spec as a person writes it (camelCase), small enough to walk in 40 steps;
    one in two names audiences (internal accounts, then beta users, then percentages)."""
    document = _spec_document(draw)
    within = draw(st.sampled_from((None, None, "1m", "5m")))
    if within is not None:  # I10b: instances must serve each phase before it soaks
        document["analysis"]["served"] = {"within": within}
    return document


def _spec_document(draw: st.DrawFn) -> dict[str, Any]:
    audiences = draw(st.booleans())
    flag: dict[str, Any] = {"key": "feature", "configMap": "feature-flag"}
    if audiences:
        flag["audiences"] = AUDIENCES
    return {
        "enabled": draw(st.sampled_from((True, True, True, True, True, False))),
        "paused": draw(st.sampled_from((False, False, False, True))),
        "flag": flag,
        "phases": draw(phase_lists(audiences)),
        "analysis": {
            "interval": draw(st.sampled_from(("30s", "1m"))),
            "prometheus": {"address": "http://prometheus:9090"},
            "errorLimit": draw(st.integers(1, 4)),
            "metrics": [
                {
                    "name": "errors",
                    "query": "sum(errors)",
                    "critical": {"above": 0.5, "for": draw(st.sampled_from(("0s", "1m", "3m")))},
                    "onNoData": draw(st.sampled_from(("Pause", "Ignore", "Fail", "Ignore"))),
                },
                {"name": "slow", "query": "max(latency)", "warning": {"above": 0.5}},
            ],
        },
        **draw(worker_documents()),
        "failurePolicy": {
            "action": draw(st.sampled_from(("Rollback", "Rollback", "Pause"))),
            "rollbackTo": draw(st.sampled_from(("PreviousPhase", "PreviousPhase", "Zero"))),
            "disableFlag": draw(st.sampled_from((False, False, True))),
        },
        **{
            field: value
            for field, value in (
                ("promotionWindows", draw(promotion_windows())),
                ("freeze", draw(freezes(T0))),
            )
            if value is not None
        },
    }


def stored(status: RolloutStatus) -> RolloutStatus:
    """The status as the API server gives it back: JSON, camelCase, no nulls."""
    return RolloutStatus.model_validate_json(
        status.model_dump_json(by_alias=True, exclude_none=True)
    )


def document(status: RolloutStatus) -> dict[str, Any]:
    """The status as JSON, as the operator compares what it decided with what is stored."""
    return status.model_dump(by_alias=True, exclude_none=True, mode="json")


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386, as the API server applies `kubectl patch --type merge`."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = value
    return result


class RolloutModel(RuleBasedStateMachine):
    """One Rollout, its stored status, the ConfigMap it publishes, and the world it watches."""

    def __init__(self) -> None:
        super().__init__()
        self.document: dict[str, Any] = {}
        self.spec: RolloutSpec
        self.generation = 1
        self.status = RolloutStatus()
        self.published: PublishFlag | None = None
        self.now: datetime = T0
        self.world = "healthy"
        self.trace: list[Moment] = []
        self.analysed: list[Analysed] = []
        self.actions: list[PersonAction] = []
        self.breaching: list[Breaching] = []
        self.reconciles: list[datetime] = []
        self.upgraded = False
        """Whether this operator has decided yet; before, an older one may have run."""
        self.unwritten: RolloutStatus | None = None
        """A decided status the operator keeps in memory over the stored one (engine.writes)."""
        self.refresh = timedelta(0)
        self.unwritten_kept = 0
        self.routine: Routine | None = None
        """What the next analyses may find without a whole decision (engine.routine)."""
        self.routine_analyses = 0
        self.delivered: frozenset[str] = frozenset()
        """Deliveries of announcements the operator confirmed (lost with a restart)."""
        self.workers: dict[str, WorkerObservation] = {}
        """The scale of the spec's worker (none: the spec names none)."""
        self.backlog = "queued"
        self.drain_readings: list[DrainReading] = []
        self.decided: Decision | None = None
        """The last decision, whose worker effects the shell applies after the status write."""
        self.instances = [0.0] * INSTANCES
        """What each app instance serves: what the ConfigMap published when it last reloaded."""

    # --- the world ----------------------------------------------------------------------

    @initialize(
        document=spec_documents(),
        world=st.sampled_from(("healthy", "healthy", *WORLDS)),
        refresh=st.sampled_from((300, 0, 60, 300)),
        backlog=st.sampled_from(tuple(BACKLOGS)),
    )
    def create(self, document: dict[str, Any], world: str, refresh: int, backlog: str) -> None:
        self.backlog = backlog
        if "workers" in document:
            for i, phase in enumerate(document["phases"]):
                phase["workers"] = {"replicas": i + 2}
            self.workers = {WORKER: WorkerObservation(replicas=1)}
        self.document = document
        self.refresh = timedelta(seconds=refresh)
        self.spec = RolloutSpec.model_validate(document)
        self.set_world(world)
        self.record()

    @rule(world=WORLD_CHANGES)
    def metrics_change(self, world: str) -> None:
        self.set_world(world)
        self.record()

    def set_world(self, world: str) -> None:
        if world == self.world:
            return
        if self.breaching and self.breaching[-1].until is None:
            self.breaching[-1] = Breaching(self.breaching[-1].since, self.now)
        if world == "breaching":
            self.breaching.append(Breaching(self.now))
        self.world = world

    @rule(backlog=st.sampled_from(tuple(BACKLOGS)))
    def backlog_changes(self, backlog: str) -> None:
        """The workers take jobs (or the queue's metrics go away)."""
        self.backlog = backlog

    @precondition(lambda self: bool(self.workers))
    @rule(backlog=st.sampled_from(tuple(BACKLOGS)))
    def abort_with_jobs_queued(self, backlog: str) -> None:
        """The async team's bad day: `ramp abort` with the worker scaled up and jobs queued,
        whatever the queue's metrics say next; the operator takes it and drains."""
        self.operator_runs(5, 4, tells=True)  # started and scaled up, unless something holds it
        self.person_acts("abort", self.status)
        self.backlog = backlog
        self.operator_runs(5, 3, tells=True)

    @rule(seconds=st.sampled_from((1, 30, 120, 600)))
    def time_passes_with_the_operator_down(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self.record()

    # --- the operator -------------------------------------------------------------------

    def decide(self) -> tuple[RolloutStatus, PublishFlag | None, Analysed | None, bool]:
        """The next status, what to publish, the analysis it took, and whether it was a whole
        decision (False: a routine analysis)."""
        self.upgraded = True
        current = self.unwritten or self.status
        samples = None
        if analysis_due(self.spec, current, self.now):
            samples = {m.name: SAMPLES[self.world] for m in self.spec.analysis.metrics}  # type: ignore[union-attr]
        analysed = None if samples is None else Analysed(self.now, samples)
        drains = None
        if drain_due(self.spec, current, self.now):
            drains = {key: BACKLOGS[self.backlog] for key in current.drains or {}}
            self.drain_readings += [DrainReading(self.now, k, s) for k, s in drains.items()]
        served = None
        if served_due(self.spec, current, self.now):
            shares = {f"10.0.0.{i}:8000": share for i, share in enumerate(self.instances)}
            served = ServedReading(SERVED_SERIES, shares)
        seen = (
            Observations(
                metrics=samples,
                workers=self.workers,
                drains=drains,
                published=self.published,
                delivered=self.delivered,
                served=served,
            )
            if OBSERVES_PUBLISHED
            else Observations(metrics=samples)
        )
        decision = decide(self.spec, current, self.now, seen, generation=self.generation)
        self.decided = decision
        stored_at = self.status.last_analysis_at
        if (
            self.routine is not None
            and samples is not None
            and stored_at is not None
            and self.now < stored_at + self.refresh
        ):
            readings = routine_readings_of(self.routine, samples, self.now)
            if readings is not None:
                self.routine_analyses += 1
                routine = {**document(current), **readings}
                assert routine == document(decision.status), "a routine analysis decided else"
                return RolloutStatus.model_validate(routine), self.published, analysed, False
        flags = [e for e in decision.effects if isinstance(e, PublishFlag)]
        return decision.status, (flags[-1] if flags else None), analysed, True

    def plan(self, status: RolloutStatus, flag: PublishFlag | None) -> WritePlan:
        """The decision's order of work (engine.plan_writes), as the operator applies it; a
        decrease is served at once, before anything else (I1)."""
        stored_now, decided = (
            s.model_dump(by_alias=True, exclude_none=True, mode="json")
            for s in (self.status, status)
        )
        plan = plan_writes(stored_now, decided, self.published, flag, self.refresh)
        if plan.publish_first is not None:
            self.published = plan.publish_first
            self.record()
        return plan

    def write(self, status: RolloutStatus, plan: WritePlan) -> None:
        """Store the decided status, or keep it in memory when only the readings moved."""
        if plan.status == "unwritten":
            self.unwritten = status
            self.unwritten_kept += 1
        else:
            self.status, self.unwritten = status, None

    def reconcile(self) -> None:
        status, flag, analysed, whole = self.decide()
        self.write(status, self.plan(status, flag))
        assert self.decided is not None
        self.workers = scaled(self.workers, self.decided)  # after the status write
        if analysed is not None:
            self.analysed.append(analysed)
        if whole:
            # As the operator: routine analyses follow a whole decision that published nothing
            # and has nothing to announce, while the stored readings may stay unwritten.
            quiet = (
                flag == self.published
                and not status.outbox
                and self.refresh > timedelta(0)
                and self.spec.analysis is not None
                and self.spec.analysis.served is None  # the shell reads it every time
            )
            self.routine = routine_of(self.spec, status, self.now) if quiet else None
        if flag is not None:
            self.published = flag
        self.reconciles.append(self.now)
        self.record()

    def announcements_delivered(self) -> None:
        """The operator told what the outbox holds (Events, webhooks): the next decision
        settles it."""
        self.delivered = delivered(self.unwritten or self.status)

    @rule(
        every=st.sampled_from((5, 10, 30, 60)),
        times=st.integers(1, 6),
        tells=st.booleans(),
        lagging=st.sampled_from((frozenset(), frozenset(), frozenset({2}), frozenset({1, 2}))),
    )
    def operator_runs(
        self, every: int, times: int, tells: bool, lagging: frozenset[int] = frozenset()
    ) -> None:
        """The operator's loop: a reconcile every few seconds (the commonest thing to happen);
        ``tells``: it delivers the announcements of each status it decided, as it does unless
        Events or webhooks fail. App instances reload what is published one step later (but
        the ``lagging`` ones, which serve what they had): I10b."""
        for _ in range(times):
            self.now += timedelta(seconds=every)
            self.instances_reload(frozenset(range(INSTANCES)) - lagging)
            self.reconcile()
            if tells:
                self.announcements_delivered()

    @rule(which=st.frozensets(st.integers(0, INSTANCES - 1), min_size=1))
    def instances_reload(self, which: frozenset[int]) -> None:
        """App instances load the flags file the ConfigMap serves now."""
        flag = self.published
        share = flag.percentage if flag is not None and flag.enabled else 0.0
        for i in which:
            self.instances[i] = share
        self.record()

    @rule(every=st.sampled_from((60, 120)), times=st.integers(2, 8), tells=st.booleans())
    def operator_runs_for_a_while(self, every: int, times: int, tells: bool) -> None:
        self.operator_runs(every, times, tells)

    @rule(every=st.sampled_from((10, 30, 60)), world=WORLD_CHANGES)
    def world_changes_under_a_settled_operator(self, every: int, world: str) -> None:
        """The operator runs until its analyses are routine, then the metrics change under it:
        the first analysis that finds something else must be decided in full."""
        self.operator_runs(every, 6, tells=True)
        self.set_world(world)
        self.operator_runs(every, 4, tells=True)

    @precondition(lambda self: not self.upgraded and self.spec.flag.bucketing is None)
    @rule(every=st.sampled_from((5, 30, 60)), times=st.integers(1, 8))
    def older_operator_runs(self, every: int, times: int) -> None:
        """An operator from before spec.flag.bucketing ran the Rollout: it wrote flags.json for
        the legacy scheme without naming it and stored no status.bucketing. This operator's
        first reconcile after it is the upgrade (I11: the users exposed stay the same)."""
        flag = {**self.document["flag"], "bucketing": LEGACY_SCHEME}
        legacy = RolloutSpec.model_validate({**self.document, "flag": flag})
        for _ in range(times):
            self.now += timedelta(seconds=every)
            samples = None
            if analysis_due(legacy, self.status, self.now):
                samples = {m.name: SAMPLES[self.world] for m in legacy.analysis.metrics}  # type: ignore[union-attr]
            seen = Observations(metrics=samples, published=self.published)
            decision = decide(legacy, self.status, self.now, seen, generation=self.generation)
            self.status = stored(decision.status.model_copy(update={"bucketing": None}))
            if samples is not None:
                self.analysed.append(Analysed(self.now, samples))
            flags = [e for e in decision.effects if isinstance(e, PublishFlag)]
            if flags:
                self.published = flags[-1]
            self.reconciles.append(self.now)
            self.record()

    @rule(seconds=st.sampled_from((0, 90, 300)))
    def operator_wakes_up(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self.reconcile()

    @rule(
        when=st.sampled_from(
            ("between status write and publish", "before status write", "while idle")
        )
    )
    def operator_restarts(self, when: str) -> None:
        """The operator is killed (and started again, reading what the API server stores)."""
        if when == "between status write and publish":
            status, flag, analysed, _ = self.decide()
            self.write(status, self.plan(status, flag))
            if analysed is not None:
                self.analysed.append(analysed)
        elif when == "before status write":
            status, flag, _, _ = self.decide()
            self.plan(status, flag)  # a decrease was served; the status write never happened
        self.status, self.unwritten = stored(self.status), None
        self.routine, self.delivered = None, frozenset()
        self.record()

    # --- people -------------------------------------------------------------------------

    @rule(
        action=st.sampled_from(
            (
                "promote",
                "promote --full",
                "promote --skip-soak",
                "promote --full --skip-soak",
                "promote --override-freeze",
                "promote --skip-soak --override-freeze",
                "pause",
                "resume",
                "abort",
                "retry",
            )
        )
    )
    def cli(self, action: str) -> None:
        self.person_acts(action, self.status)

    @rule(back=st.integers(1, 6), full=st.booleans())
    def second_person_promotes(self, back: int, full: bool) -> None:
        """`ramp promote` again, from a read of the status older than the operator's last
        write: two people at one gate, or a shell retry. Its request lands on the status the
        API server has now (a merge patch checks no resourceVersion)."""
        read = self.trace[max(len(self.trace) - 1 - back, 0)].status
        self.person_acts("promote --full" if full else "promote", read)

    def person_acts(self, action: str, read: RolloutStatus) -> None:
        """What `ramp ACTION` writes after reading ``read``, applied to the stored status."""
        name, _, options = action.partition(" ")
        try:
            plan = plan_action(
                name,  # type: ignore[arg-type]
                "rollout",
                read.model_dump(by_alias=True, exclude_none=True, mode="json"),
                self.now,
                full="--full" in options,
                skip_soak="--skip-soak" in options,
                by="alice" if name == "promote" else None,
                spec_paused=self.spec.paused,
                override_freeze="--override-freeze" in options,
            )
        except ActionNotApplicable:
            return
        if not plan.control_patch:
            return
        current = self.status.model_dump(by_alias=True, exclude_none=True, mode="json")
        current["control"] = merge_patch(current.get("control") or {}, plan.control_patch)
        self.status, self.unwritten = RolloutStatus.model_validate(current), None
        self.routine = None  # a new resourceVersion
        self.actions.append(PersonAction(self.now, name, moment=len(self.trace)))
        self.record()

    @rule(
        kind=st.sampled_from(
            (
                "paused",
                "enabled",
                "phase",
                "add phase",
                "remove phase",
                "failure policy",
                "scheme",
                "audiences",
                "freeze",
                "windows",
            )
        ),
        named=st.sampled_from(AUDIENCE_STEPS),
        index=st.integers(0, 4),
        field=st.sampled_from(("percentage", "duration", "approval")),
        pct=st.sampled_from(PERCENTAGES),
        duration=st.sampled_from(DURATIONS),
        manual=st.booleans(),
        action=st.sampled_from(("Rollback", "Pause")),
        previous=st.booleans(),
        disable=st.booleans(),
        scheme=st.sampled_from(SCHEMES),
        freeze=st.data(),
    )
    def person_edits_spec(
        self,
        kind: str,
        index: int,
        field: str,
        pct: int,
        duration: str,
        manual: bool,
        action: str,
        previous: bool,
        disable: bool,
        scheme: str,
        named: tuple[str, ...],
        freeze: st.DataObject,
    ) -> None:
        """`kubectl apply` or a GitOps sync of an edited manifest (admission refuses invalid
        ones, and then nothing changes)."""
        phases = [dict(p) for p in self.document["phases"]]
        at = index % len(phases)
        if kind == "paused":
            self.edit({"paused": not self.spec.paused})
        elif kind == "enabled":
            self.edit({"enabled": not self.spec.enabled})
        elif kind == "phase":
            approval = "Manual" if manual else "Automatic"
            phases[at][field] = {"percentage": pct, "duration": duration, "approval": approval}[
                field
            ]
            self.edit({"phases": phases})
        elif kind == "add phase":
            added = {"name": f"n{self.generation}", "percentage": pct, "duration": duration}
            phases.insert(index % (len(phases) + 1), added)
            self.edit({"phases": phases})
        elif kind == "remove phase" and len(phases) > 1:
            del phases[at]
            self.edit({"phases": phases})
        elif kind == "failure policy":
            policy = {
                "action": action,
                "rollbackTo": "PreviousPhase" if previous else "Zero",
                "disableFlag": disable,
            }
            self.edit({"failurePolicy": policy})
        elif kind == "audiences":
            # A phase serves other audiences (admission refuses those shrinking on the way up
            # and those not defined in spec.flag.audiences).
            phases[at]["audiences"] = list(named)
            self.edit({"phases": phases})
        elif kind == "scheme":
            # Admission's transition rule (api/spec.py BUCKETING_FIXED_WHILE_EXPOSED).
            percentage = self.status.percentage or 0
            exposed = percentage > 0 and (self.status.phase != "Completed" or percentage < 100)
            if not exposed or scheme == self.status.bucketing:
                self.edit({"flag": {**self.document["flag"], "bucketing": scheme}})
        elif kind == "freeze":
            self.edit({"freeze": freeze.draw(freezes(self.now))})
        elif kind == "windows":
            self.edit({"promotionWindows": freeze.draw(promotion_windows(self.now))})

    def edit(self, change: dict[str, Any]) -> None:
        document = {**self.document, **change}
        try:
            spec = RolloutSpec.model_validate(document)
        except ValidationError:
            return  # admission refuses it; nothing changes
        if spec == self.spec:
            return
        self.document, self.spec = document, spec
        self.generation += 1
        self.unwritten = self.routine = None  # the edit is a new resourceVersion
        self.record()

    # --- what must hold -----------------------------------------------------------------

    def record(self) -> None:
        self.trace.append(
            Moment(
                self.now,
                self.spec,
                self.status,
                self.published,
                dict(self.workers),
                tuple(self.instances),
            )
        )

    def teardown(self) -> None:
        # Steer the search towards runs that get far: later phases, and rollbacks that leave
        # users exposed, are where the subtle rules apply.
        target(float(max(m.status.current_phase_index or 0 for m in self.trace)), label="phase")
        exposed_rollbacks = sum(
            1 for m in self.trace if m.status.phase == "RolledBack" and exposure(m.published) > 0
        )
        target(float(exposed_rollbacks), label="rollbacks leaving users exposed")
        target(float(self.unwritten_kept), label="analyses left unwritten")
        target(float(self.routine_analyses), label="routine analyses")
        drained = sum(1 for m in self.trace if m.status.drains)
        target(float(drained), label="moments with a worker draining")

    @invariant()
    def safe(self) -> None:
        check_trace(
            self.trace,
            analysed=self.analysed,
            actions=self.actions,
            breaching=self.breaching,
            reconciles=self.reconciles,
            drain_readings=self.drain_readings,
        )


TestEngineKeepsTheSafetyInvariants = RolloutModel.TestCase
TestEngineKeepsTheSafetyInvariants.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    # CI replays the same examples every run, so a red build always means a change broke an
    # invariant; developers' runs draw new ones and keep finding what is left.
    derandomize=bool(os.environ.get("CI")),
    database=None if os.environ.get("CI") else settings.default.database,
)
