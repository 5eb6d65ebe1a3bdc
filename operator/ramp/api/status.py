"""The Rollout status: all progress lives here, so an operator restarted at any moment resumes
exactly where it was. The CRD declares every field below (nothing is pruned on write)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ramp.api.base import StatusModel
from ramp.api.rollout_policy import PolicyStatus
from ramp.api.served import ServedStatus
from ramp.api.spec import BucketingScheme

RolloutPhase = Literal[
    "Pending",
    "Progressing",
    "Paused",
    "AwaitingApproval",
    "Completed",
    "RolledBack",
    "Disabled",
    "Failed",
]
Verdict = Literal["Pass", "Warning", "Critical", "NoData", "Error"]


class Cohort(StatusModel):
    """Units of work one variant got since the comparison began, and how many failed."""

    units: float = Field(0.0, description="Units counted (the total counter's increase).")
    failures: float = Field(0.0, description="Failed units (the failures counter's increase).")
    failure_rate: float | None = Field(None, description="failures / units; absent with no units.")


CompareVerdict = Literal["Regressed", "Passing", "Inconclusive"]


class Comparison(StatusModel):
    """Flag-on vs flag-off, as a person reads it."""

    treatment: Cohort = Field(default_factory=Cohort, description="The flag-on cohort.")
    control: Cohort = Field(default_factory=Cohort, description="The flag-off cohort.")
    ratio: float | None = Field(None, description="Treatment failure rate / control's.")
    ratio_low: float | None = Field(
        None, description="Lower end of the ratio's always-valid confidence interval."
    )
    ratio_high: float | None = Field(
        None, description="Upper end of the ratio's always-valid confidence interval."
    )
    evidence: float = Field(
        1.0,
        description="How many times likelier the data are under a regression than at maxRatio; "
        "Regressed at 1/(1-confidence).",
    )
    verdict: CompareVerdict = Field(
        "Inconclusive", description="Regressed, Passing or Inconclusive (minEvents not reached)."
    )
    units_per_second: float | None = Field(
        None, description="Units per second of both cohorts in the last window."
    )


class CompareStatus(Comparison):
    """A comparison with the state that carries its evidence from one window to the next."""

    started_at: datetime = Field(description="When the comparison began.")
    observed_until: datetime = Field(description="End of the last window counted.")
    max_ratio: float = Field(description="compare.maxRatio the evidence was gathered against.")
    log_likelihood: list[float] = Field(
        default_factory=list,
        description="Log-likelihood of each ratio on the test's grid (maxRatio x 2^(j/4), "
        "j=-12..16), relative to the likeliest.",
    )


class MetricStatus(StatusModel):
    """The last evaluation of one metric and the state of its `for` windows."""

    name: str = Field(description="Metric name from spec.analysis.metrics.")
    value: float | None = Field(None, description="Last value; absent when no data or error.")
    verdict: Verdict = Field(description="Pass, Warning, Critical, NoData or Error.")
    since: datetime = Field(description="When the verdict last changed.")
    observed_at: datetime = Field(description="When the value was read.")
    message: str | None = Field(None, description="Why the verdict, in words.")
    critical_since: datetime | None = Field(
        None, description="First sample of the current critical breach (its `for` window)."
    )
    warning_since: datetime | None = Field(
        None, description="First sample of the current warning breach (its `for` window)."
    )
    consecutive_errors: int = Field(0, description="Query errors in a row.")
    compare: CompareStatus | None = Field(
        None, description="For a compare metric: both cohorts and the sequential test."
    )


class Condition(StatusModel):
    """metav1.Condition."""

    type: str = Field(
        description="Ready, Reconciling, Stalled (kstatus), Progressing, Healthy, Paused, "
        "Completed, Published, WorkersReady, PromotionAllowed or PolicyResolved."
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason.")
    message: str = Field("", description="Human-readable details.")
    last_transition_time: datetime = Field(description="When status last changed.")
    observed_generation: int | None = Field(None, description="Generation it was computed for.")


class HistoryEntry(StatusModel):
    """One transition, newest last."""

    time: datetime = Field(description="When it happened.")
    phase: RolloutPhase = Field(description="Rollout phase after the transition.")
    step: str | None = Field(None, description="Name of the current spec phase.")
    percentage: float = Field(description="Published percentage after the transition.")
    audiences: list[str] | None = Field(
        None, description="Audiences served ahead of the percentage after the transition."
    )
    reason: str = Field(description="Why (same as the Event reason).")
    message: str = Field("", description="Details.")
    seq: int | None = Field(None, description="Number of the announcement that told it.")
    propagation_seconds: float | None = Field(
        None,
        description="For reason Served: seconds from publishing the percentage to every "
        "instance serving it.",
    )


class Announcement(StatusModel):
    """A transition or warning still to be told, kept until every delivery of it is confirmed:
    an operator killed between deciding and telling tells it after its restart."""

    seq: int = Field(description="Number of the announcement; deliveries carry it in their id.")
    time: datetime = Field(description="When it was decided.")
    type: Literal["Normal", "Warning"] = Field(description="Event type.")
    reason: str = Field(description="Event reason, and the transition webhooks subscribe to.")
    message: str = Field("", description="What happened, in words.")
    step: str | None = Field(None, description="Name of the spec phase at the time.")
    percentage: float = Field(0.0, description="Published percentage at the time.")
    metric: str | None = Field(None, description="Metric that caused it, if any.")
    incident: int | None = Field(
        None,
        description="For a breach's rollback or pause, and for what ends it: the number of "
        "the announcement that opened the on-call incident (PagerDuty's dedup_key).",
    )
    pending: list[str] = Field(
        default_factory=list,
        description="Deliveries not yet confirmed: `event`, or `webhook-N` for "
        "spec.notifications[N].",
    )


class MetricValue(StatusModel):
    name: str = Field(description="Metric name.")
    value: float | None = Field(None, description="Value at the time; absent when none.")
    verdict: Verdict | None = Field(None, description="Verdict at the time.")
    compare: Comparison | None = Field(None, description="A compare metric's cohorts at the time.")


class Snapshot(StatusModel):
    """Every metric's value at the moment a failure policy applied."""

    taken_at: datetime = Field(description="When the snapshot was taken.")
    reason: str = Field(description="Which breach triggered it.")
    step: str | None = Field(None, description="Phase that failed.")
    percentage: float = Field(description="Percentage published when it failed.")
    metrics: list[MetricValue] = Field(default_factory=list, description="Values of every metric.")


class WorkerScale(StatusModel):
    """The scale a worker had before Ramp first changed it."""

    replicas: int | None = Field(None, description="Deployment spec.replicas.")
    min_replicas: int | None = Field(None, description="HPA spec.minReplicas.")
    max_replicas: int | None = Field(None, description="HPA spec.maxReplicas.")


class DrainStatus(StatusModel):
    """A worker kept at its scale after the exposure went down, until its drain query reads 0
    or its deadline passes (spec.workers[].drain)."""

    started_at: datetime = Field(description="When the exposure went down and the drain began.")
    deadline: datetime = Field(
        description="When the worker is scaled down whatever is left (startedAt + timeout); "
        "kept across operator restarts."
    )
    scale: WorkerScale = Field(description="The scale the worker keeps while it drains.")
    left: float | None = Field(
        None, description="What the drain query read last; absent before a reading or with no data."
    )
    observed_at: datetime | None = Field(None, description="When the drain query was last read.")
    error: str | None = Field(None, description="Why the last reading failed, if it did.")


class Request(StatusModel):
    requested_at: datetime | None = Field(None, description="When the CLI asked.")
    by: str | None = Field(
        None,
        description="Who asked: failurePolicy, or the user `ramp promote` authenticated as (a "
        "soak skip needs it).",
    )


class PromoteRequest(Request):
    phase_index: int = Field(description="Phase the promotion was asked for (stale ones drop).")
    phase: str | None = Field(
        None, description="Name of that phase; a spec edit that renames it drops the request."
    )
    full: bool = Field(
        False,
        description="Skip to the last phase (the later phases' soaks and gates are skipped, "
        "recorded in status.history with who asked).",
    )
    skip_soak: bool = Field(
        False,
        description="Promote now, before the phase's soak has ended (`ramp promote "
        "--skip-soak`); recorded in status.history with who asked. Without it, a promote only "
        "opens the Manual gate of a phase awaiting approval, and is dropped otherwise.",
    )
    override_freeze: bool = Field(
        False,
        description="Promote although a freeze or the promotion windows hold promotion "
        "(`ramp promote --override-freeze`); recorded in status.history with who asked.",
    )


class Control(StatusModel):
    """Requests written by `ramp promote|pause|resume|abort|retry` through the status
    subresource (never spec, so GitOps sees no drift); the operator consumes them."""

    promote: PromoteRequest | None = Field(None, description="Promote past the current phase.")
    pause: Request | None = Field(None, description="Hold the rollout until resumed.")
    resume: Request | None = Field(
        None,
        description="Written with the removal of a pause: the breach windows start afresh, so "
        "the resumed rollout is judged on evidence gathered after the resume.",
    )
    abort: Request | None = Field(None, description="Roll back to 0 %.")
    retry: Request | None = Field(None, description="Start again after a rollback.")


class RolloutStatus(StatusModel):
    """Where the rollout stands."""

    phase: RolloutPhase | None = Field(None, description="Lifecycle phase of the rollout.")
    current_phase: str | None = Field(None, description="Name of the current spec phase.")
    current_phase_index: int | None = Field(None, description="Index of the current spec phase.")
    percentage: float | None = Field(None, description="Percentage published in the ConfigMap.")
    audiences: list[str] | None = Field(
        None,
        description="Audiences (spec.flag.audiences) published in the ConfigMap: their members "
        "get the feature whatever the percentage.",
    )
    served: str | None = Field(
        None,
        description="Who is served, as `kubectl get` shows it: the percentage, and how many "
        "audiences besides (10% +2); 0% while the flag is off.",
    )
    enabled: bool | None = Field(None, description="Master toggle published in the ConfigMap.")
    bucketing: BucketingScheme | None = Field(
        None,
        description="Bucketing scheme flags.json is published with while the rollout is in "
        "flight, remembered from its first publish above 0 % until it is rolled back to 0 % or "
        "completes at 100 %: another scheme would give the feature to other users.",
    )
    phase_started_at: datetime | None = Field(
        None, description="Start of the current phase's soak, shifted by paused time."
    )
    next_promotion_at: datetime | None = Field(None, description="Earliest next promotion.")
    paused_at: datetime | None = Field(None, description="When the soak clock stopped.")
    message: str | None = Field(None, description="What the rollout is doing, in words.")
    health: str | None = Field(
        None, description="Healthy, Warning, Critical, NoData, Error, or Unknown."
    )
    baseline: dict[str, float] | None = Field(None, description="Baseline values by metric.")
    metrics: list[MetricStatus] | None = Field(None, description="Last evaluation per metric.")
    last_analysis_at: datetime | None = Field(None, description="When metrics were last read.")
    conditions: list[Condition] | None = Field(None, description="Standard conditions.")
    history: list[HistoryEntry] | None = Field(None, description="Recent transitions.")
    snapshot: Snapshot | None = Field(None, description="Metrics when a failure policy applied.")
    worker_originals: dict[str, WorkerScale] | None = Field(
        None, description="Worker scale before Ramp changed it, restored at the end."
    )
    rolled_back_from: str | None = Field(None, description="Phase that failed, after rollback.")
    observed_generation: int | None = Field(None, description="Spec generation last acted on.")
    control: Control | None = Field(None, description="Pending CLI requests.")
    flag_disabled_at: datetime | None = Field(
        None,
        description="When failurePolicy.disableFlag published enabled=false; it stays false "
        "until `ramp resume`, `ramp retry` or a spec change.",
    )
    awaiting_publish_since: datetime | None = Field(
        None,
        description="Since when the ConfigMap has not served the values in this status; the "
        "soak clock is stopped meanwhile.",
    )
    instances: ServedStatus | None = Field(
        None, description="What the apps' instances serve (spec.analysis.served)."
    )
    sequence: int | None = Field(None, description="Number of the last announcement.")
    outbox: list[Announcement] | None = Field(
        None, description="Announcements whose Event or notifications are not yet confirmed."
    )
    incident: int | None = Field(
        None,
        description="Number of the announcement that opened the on-call incident still open "
        "(a breach rolled the rollout back or paused it); completion, `ramp retry` or `ramp "
        "resume` resolves it.",
    )
    drains: dict[str, DrainStatus] | None = Field(
        None,
        description="Workers kept at their scale until the work queued for them is done, by "
        "worker (the Deployment name, or hpa/<name>).",
    )
    draining: str | None = Field(
        None,
        description="What the drains wait for, in words (e.g. `pdf-worker: 1,240 left, 27m to "
        "timeout`); absent when nothing drains.",
    )
    policy: PolicyStatus | None = Field(
        None,
        description="The RolloutPolicy (spec.policy) in force: its name, generation and what "
        "it contributed.",
    )
    worker_corrections: dict[str, int] | None = Field(
        None,
        description="Workers found changed back from Ramp's target in a row; at the limit Ramp "
        "stops setting them and says so in the WorkersReady condition.",
    )


def step_label(rollout: dict[str, Any]) -> str:
    """STEP as `ramp list`, `ramp status` and the dashboard show it: the current phase and its
    place among the spec's phases (`2/5 canary`), `-` before the first."""
    status = rollout.get("status") or {}
    phases = (rollout.get("spec") or {}).get("phases") or []
    if not status.get("currentPhase"):
        return "-"
    return f"{int(status.get('currentPhaseIndex') or 0) + 1}/{len(phases)} {status['currentPhase']}"
