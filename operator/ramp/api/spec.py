"""The Rollout spec: what users write in Git. Every description here is what `kubectl explain`
shows; admission rules (CEL) sit next to the fields they guard, with messages naming them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from ramp.api.audiences import SPEC_RULES, Audiences, PhaseAudiences, check_phase_audiences
from ramp.api.base import Rule, SpecModel, cel
from ramp.api.durations import (
    DURATION_PATTERN,
    IS_A_DURATION,
    is_a_duration,
    parse_duration,
)
from ramp.api.served import Served
from ramp.api.windows import Freeze, PromotionWindow
from ramp.flags import DEFAULT_SCHEME

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
POLICY_ARG_PATTERN = r"^[-A-Za-z0-9_.:/]*$"
POLICY_ARG = Annotated[str, Field(pattern=POLICY_ARG_PATTERN, max_length=253)]
"""A policy arg's value: it lands inside PromQL, so no quotes, braces or spaces."""
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ENV_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
FLAG_KEY_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"

TWO_DECIMALS = Rule(
    "double(int(self * 100.0 + 0.5)) - self * 100.0 < 0.000001"
    " && self * 100.0 - double(int(self * 100.0 + 0.5)) < 0.000001",
    "a percentage has at most two decimals (e.g. 12.5 or 33.33)",
    lambda value: abs(round(value * 100) - value * 100) <= 1e-6,
)


MAX_DURATION = "8760h"
"""The longest duration admitted (a year): far past any soak, and short enough that a time plus
it is still a date (a larger one overflowed the engine's clock arithmetic)."""


def _at_most(longest: str) -> Callable[[str], bool]:
    def holds(text: str) -> bool:
        try:
            return not is_a_duration(text) or parse_duration(text) <= parse_duration(longest)
        except OverflowError:
            return False

    return holds


DURATION_AT_MOST_A_YEAR = Rule(
    # Judged only for a duration: CEL's duration() of anything else is an evaluation error.
    f"!self.matches('{DURATION_PATTERN}') || duration(self) <= duration('{MAX_DURATION}')",
    f"a duration may be at most {MAX_DURATION} (365 days)",
    _at_most(MAX_DURATION),
)

AT_LEAST_A_SECOND = Rule(
    f"!self.matches('{DURATION_PATTERN}') || duration(self) >= duration('1s')",
    "spec.analysis.interval must be at least 1s",
    lambda text: not is_a_duration(text) or parse_duration(text) >= timedelta(seconds=1),
)
"""spec.analysis.interval's rule: a Duration, and not below a second."""


def _has_a_host(value: str) -> bool:
    try:
        return bool(urlsplit(value).hostname)
    except ValueError:
        return False


Percentage = Annotated[
    float,
    Field(ge=0, le=100),
    TWO_DECIMALS,
    AfterValidator(lambda value: round(value, 2)),
]
Duration = Annotated[str, Field(max_length=32), IS_A_DURATION, DURATION_AT_MOST_A_YEAR]
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)]

Transition = Literal[
    "Started",
    "Promoted",
    "AwaitingApproval",
    "Paused",
    "Resumed",
    "Completed",
    "RolledBack",
    "Disabled",
    "Enabled",
    "Warning",
    "Retried",
    "DrainTimedOut",
]
"""Transitions a notification can subscribe to; they are also the Events' reasons."""


class EnvKeys(SpecModel):
    """Env-style keys written into the ConfigMap, for applications that use `envFrom`."""

    enabled: str | None = Field(
        None,
        pattern=ENV_KEY_PATTERN,
        max_length=253,
        description='Key holding the master toggle, "true" or "false" (e.g. ENABLE_ASYNC_REPORTS).',
    )
    percentage: str | None = Field(
        None,
        pattern=ENV_KEY_PATTERN,
        max_length=253,
        description="Key holding the published percentage, e.g. ASYNC_ROLLOUT_PERCENTAGE=25.",
    )

    rules = (
        Rule(
            "!has(self.enabled) || !has(self.percentage) || self.enabled != self.percentage",
            "spec.flag.env: enabled and percentage must be different keys",
            lambda keys: keys.enabled is None or keys.enabled != keys.percentage,
        ),
    )


class WorkloadRef(SpecModel):
    """A workload that reads the flag from env at start and needs a rolling restart on change."""

    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = Field(
        "Deployment", description="Kind of the workload: Deployment, StatefulSet or DaemonSet."
    )
    name: str = Field(
        pattern=DNS_SUBDOMAIN_PATTERN, max_length=253, description="Name of the workload."
    )


BucketingScheme = Literal["FlagdGoCore", "FlagdSuiteV2", "PythonProviderCBOR"]
"""ramp.flags.SCHEMES (a test checks they are the same)."""

_NEW_SCHEME = f"(has(self.spec.flag.bucketing) ? self.spec.flag.bucketing : '{DEFAULT_SCHEME}')"
BUCKETING_FIXED_WHILE_EXPOSED = cel(
    f"{_NEW_SCHEME} == "
    f"(has(oldSelf.spec.flag.bucketing) ? oldSelf.spec.flag.bucketing : '{DEFAULT_SCHEME}') || "
    "!has(oldSelf.status) || !has(oldSelf.status.percentage) || "
    "oldSelf.status.percentage == 0.0 || "
    # The scheme in use (remembered by the engine) may be written down: nobody is reshuffled.
    f"(has(oldSelf.status.bucketing) && {_NEW_SCHEME} == oldSelf.status.bucketing) || "
    # Completed below 100 % still exposes some users and not others.
    "(has(oldSelf.status.phase) && oldSelf.status.phase == 'Completed' && "
    "oldSelf.status.percentage >= 100.0)",
    "spec.flag.bucketing cannot change while the rollout exposes users (status.percentage "
    "above 0 and not Completed at 100 %): another scheme would give the feature to other "
    "users. Roll back to 0 % (`ramp abort`) or let the rollout complete at 100 %, then change "
    "it; the scheme in use (status.bucketing) is always accepted.",
    field_path=".spec.flag.bucketing",
)
"""Transition rule on the whole Rollout (it reads the old status): see crd.build_crd."""


class FlagSpec(SpecModel):
    """Where and how the flag is published for applications to read."""

    key: str = Field(
        pattern=FLAG_KEY_PATTERN,
        max_length=253,
        description="Flag key in flags.json; with the targeting key it feeds the bucketing hash.",
    )
    config_map: str = Field(
        pattern=DNS_SUBDOMAIN_PATTERN,
        max_length=253,
        description="ConfigMap in the Rollout's namespace holding the flag; created and "
        "owner-referenced when missing. Ramp writes only its own keys in it.",
    )
    env: EnvKeys | None = Field(
        None, description="Optional env-style keys for applications that read env (`envFrom`)."
    )
    restart_on_change: list[WorkloadRef] | None = Field(
        None,
        max_length=20,
        description="Workloads that read env only at start: they get a rolling restart (pod "
        "template annotation) when the published values change, and only then.",
    )
    bucketing: BucketingScheme | None = Field(
        None,
        description="How readers put a user in a bucket, so every service decides alike: "
        "FlagdGoCore (flagd's Go core v0.12: the flagd daemon/sidecar, every RPC provider, the "
        "Go in-process provider; the default), FlagdSuiteV2 (the flagd conformance suite's "
        "fractional-v2) or PythonProviderCBOR (openfeature-provider-flagd 0.6.x, and flags.json "
        "written by Ramp before this field). Written into flags.json (flag metadata `bucketing`), "
        "where ramp.flags reads it. Cannot change while users are exposed (status.percentage "
        "above 0 and not Completed at 100 %), except to the scheme in use (status.bucketing): "
        "that would reshuffle who has the feature.",
    )
    audiences: Audiences = None


class WorkerDrain(SpecModel):
    """Wait for queued work before a worker loses scale: after a rollback, `ramp abort`,
    `spec.enabled: false` or a step down, the worker keeps its current scale until `query`
    reads 0 or `timeout` has passed; then it is scaled down (its original scale, or the lower
    phase's)."""

    query: str = Field(
        min_length=1,
        max_length=4096,
        description="PromQL instant query returning what is left for the worker to do (queued "
        "and in-flight jobs, one number: aggregate with sum/max); 0 when drained. Read on the "
        "analysis interval from spec.analysis.prometheus. No data or an error is not 0: the "
        "drain waits until its timeout.",
    )
    timeout: Duration = Field(
        "30m",
        description="Longest wait for the query to read 0 (Go duration); then the worker is "
        "scaled down anyway, with a DrainTimedOut Event and notification.",
    )

    @property
    def limit(self) -> timedelta:
        return parse_duration(self.timeout)


class WorkerRef(SpecModel):
    """A worker workload scaled per phase: a Deployment, its HPA, or both."""

    deployment: str | None = Field(
        None,
        pattern=DNS_SUBDOMAIN_PATTERN,
        max_length=253,
        description="Deployment whose spec.replicas is set per phase (left to the HPA if both).",
    )
    hpa: str | None = Field(
        None,
        pattern=DNS_SUBDOMAIN_PATTERN,
        max_length=253,
        description="HorizontalPodAutoscaler whose minReplicas/maxReplicas are set per phase.",
    )
    drain: WorkerDrain | None = Field(
        None,
        description="Keep the worker's scale after the exposure goes down until the jobs "
        "already queued are done (needs spec.analysis for its Prometheus).",
    )

    rules = (
        Rule(
            "has(self.deployment) || has(self.hpa)",
            "spec.workers: each worker names a deployment, an hpa, or both",
            lambda worker: worker.deployment is not None or worker.hpa is not None,
        ),
    )


class PhaseWorkers(SpecModel):
    """Worker scale during a phase: `replicas` (no HPA) or `minReplicas`/`maxReplicas` (HPA)."""

    replicas: int | None = Field(None, ge=0, le=10000, description="Deployment replicas.")
    min_replicas: int | None = Field(None, ge=1, le=10000, description="HPA minReplicas.")
    max_replicas: int | None = Field(None, ge=1, le=10000, description="HPA maxReplicas.")

    rules = (
        Rule(
            "has(self.replicas) || has(self.minReplicas) || has(self.maxReplicas)",
            "workers: set replicas, or minReplicas and/or maxReplicas",
            lambda w: any(n is not None for n in (w.replicas, w.min_replicas, w.max_replicas)),
        ),
        Rule(
            "!has(self.minReplicas) || !has(self.maxReplicas)"
            " || self.minReplicas <= self.maxReplicas",
            "workers.minReplicas must not exceed workers.maxReplicas",
            lambda w: (
                w.min_replicas is None or w.max_replicas is None or w.min_replicas <= w.max_replicas
            ),
        ),
    )


class Threshold(SpecModel):
    """When a metric's value is bad. Any bound crossed is a breach; `for` is how long it must
    last before it counts (exactly: the first breaching sample and the one `for` later)."""

    above: float | None = Field(None, description="Breach when the value is greater than this.")
    below: float | None = Field(None, description="Breach when the value is less than this.")
    above_baseline_ratio: float | None = Field(
        None,
        gt=0,
        description="Breach when the value is greater than baseline x this ratio "
        "(needs `baseline` on the metric).",
    )
    below_baseline_ratio: float | None = Field(
        None,
        gt=0,
        description="Breach when the value is less than baseline x this ratio "
        "(needs `baseline` on the metric).",
    )
    for_: Duration | None = Field(
        None,
        alias="for",
        description="How long the breach must be sustained before it counts (Go duration; "
        "default 0s: the first breaching sample counts).",
    )

    rules = (
        Rule(
            "has(self.above) || has(self.below) || has(self.aboveBaselineRatio)"
            " || has(self.belowBaselineRatio)",
            "a threshold needs one of above, below, aboveBaselineRatio or belowBaselineRatio",
            lambda threshold: threshold.bounds_set,
        ),
    )

    @property
    def bounds_set(self) -> bool:
        return any(
            b is not None
            for b in (self.above, self.below, self.above_baseline_ratio, self.below_baseline_ratio)
        )

    @property
    def uses_baseline(self) -> bool:
        return self.above_baseline_ratio is not None or self.below_baseline_ratio is not None

    @property
    def sustain(self) -> timedelta:
        return parse_duration(self.for_) if self.for_ else timedelta(0)


class Baseline(SpecModel):
    """A reference value for ratio thresholds, kept in status.baseline."""

    capture: Literal["AtStart"] = Field(
        "AtStart",
        description="AtStart: the value measured when the rollout starts, before any user "
        "gets the feature.",
    )


NoDataPolicy = Literal["Pause", "Fail", "Ignore"]

LABEL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_MATCHER = r'[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"([^"\\]|\\.)*"'
COUNTER_SELECTOR_PATTERN = (
    rf"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{{\s*({_MATCHER}(\s*,\s*{_MATCHER})*\s*,?)?\s*\}})?$"
)
"""A counter's name with optional label matchers: `jobs_total{queue="reports"}`."""


class Compare(SpecModel):
    """Flag-on vs flag-off: an always-valid sequential test on two counters that apps label
    with the variant each unit of work got (see docs/flags.md)."""

    failures: str = Field(
        pattern=COUNTER_SELECTOR_PATTERN,
        max_length=1024,
        description="Counter of failed units: a metric name with optional label matchers, "
        'e.g. jobs_failed_total{queue="reports"}.',
    )
    total: str = Field(
        pattern=COUNTER_SELECTOR_PATTERN,
        max_length=1024,
        description="Counter of all units, same form as failures.",
    )
    variant_label: str = Field(
        "feature_flag_result_variant",
        pattern=LABEL_NAME_PATTERN,
        max_length=128,
        description="Label holding the variant each unit got.",
    )
    treatment: str = Field(
        "on", min_length=1, max_length=128, description="Variant label value of the flag-on cohort."
    )
    control: str = Field(
        "off",
        min_length=1,
        max_length=128,
        description="Variant label value of the flag-off cohort.",
    )
    max_ratio: float = Field(
        1.0,
        gt=0,
        le=100,
        description="A treatment failure rate above maxRatio x the control's is a regression.",
    )
    confidence: float = Field(
        0.95,
        ge=0.5,
        le=0.9999,
        description="1 - the false-alarm rate, which holds however often the operator looks.",
    )
    min_events: int = Field(
        100,
        ge=1,
        le=100_000_000,
        description="Treatment units needed before a phase may promote.",
    )

    rules = (
        Rule(
            "(has(self.treatment) ? self.treatment : 'on')"
            " != (has(self.control) ? self.control : 'off')",
            "compare.treatment and compare.control must be different variants",
            lambda compare: compare.treatment != compare.control,
        ),
    )

    @model_validator(mode="after")
    def _no_variant_matcher(self) -> Compare:
        # Not a CEL rule: the label to look for is another field's value.
        for field, selector in (("failures", self.failures), ("total", self.total)):
            if re.search(rf"[{{,]\s*{re.escape(self.variant_label)}\s*[=!]", selector):
                raise ValueError(
                    f"compare.{field}: do not match on {self.variant_label} "
                    "(compare.variantLabel); Ramp adds the treatment and control matchers itself"
                )
        return self


class Metric(SpecModel):
    """One PromQL query evaluated every analysis interval, with its thresholds."""

    name: Name = Field(description="Name used in status, events and phase overrides.")
    query: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="PromQL instant query returning one series (aggregate with sum/max); "
        "judged by warning and critical.",
    )
    compare: Compare | None = Field(
        None,
        description="Instead of query: compare the flag-on cohort's failure rate with the "
        "flag-off cohort's (a sequential test; no warning, critical or baseline).",
    )
    warning: Threshold | None = Field(
        None, description="Crossing it (sustained) records an Event and sets Healthy=False."
    )
    critical: Threshold | None = Field(
        None, description="Crossing it (sustained) applies spec.failurePolicy."
    )
    baseline: Baseline | None = Field(
        None, description="Capture a baseline value for ratio thresholds."
    )
    on_no_data: NoDataPolicy | None = Field(
        None,
        description="When the query returns nothing: Pause (hold, the default), Fail "
        "(counts as a critical breach) or Ignore (counts as passing).",
    )

    rules = (
        Rule(
            "has(self.query) != has(self.compare)",
            "a metric has either query (judged by thresholds) or compare, not both",
            lambda metric: (metric.query is None) != (metric.compare is None),
        ),
        Rule(
            "!has(self.compare) || !(has(self.warning) || has(self.critical)"
            " || has(self.baseline))",
            "a compare metric has no warning, critical or baseline: the sequential test "
            "gives its verdict",
            lambda metric: (
                metric.compare is None
                or (metric.warning is None and metric.critical is None and metric.baseline is None)
            ),
        ),
        Rule(
            "has(self.compare) || has(self.warning) || has(self.critical)",
            "a metric needs a warning or a critical threshold",
            lambda metric: (
                metric.compare is not None
                or metric.warning is not None
                or metric.critical is not None
            ),
        ),
        Rule(
            "has(self.baseline) || !((has(self.critical) && "
            "(has(self.critical.aboveBaselineRatio) || has(self.critical.belowBaselineRatio)))"
            " || (has(self.warning) && (has(self.warning.aboveBaselineRatio)"
            " || has(self.warning.belowBaselineRatio))))",
            "a baseline ratio threshold needs baseline: {capture: AtStart} on the metric",
            lambda metric: (
                metric.baseline is not None
                or not any(t and t.uses_baseline for t in (metric.warning, metric.critical))
            ),
        ),
    )


class MetricOverride(SpecModel):
    """Per-phase replacement of a metric's thresholds, by metric name."""

    name: Name = Field(description="Name of a metric defined in spec.analysis.metrics.")
    warning: Threshold | None = Field(None, description="Warning threshold in this phase.")
    critical: Threshold | None = Field(None, description="Critical threshold in this phase.")
    on_no_data: NoDataPolicy | None = Field(None, description="No-data policy in this phase.")


class Phase(SpecModel):
    """One step of the rollout: a percentage held for a duration, then promoted."""

    name: Name = Field(description="Unique name of the phase (shown as STEP).")
    percentage: Percentage = Field(
        description="Share of targeting keys that get the feature, 0..100, two decimals."
    )
    duration: Duration = Field(
        "0s",
        description="Minimum healthy time before promotion (Go duration: 90s, 5m, 1h30m).",
    )
    approval: Literal["Automatic", "Manual"] = Field(
        "Automatic",
        description="Automatic promotes when the duration passed and metrics are healthy; "
        "Manual then waits for `ramp promote`.",
    )
    audiences: PhaseAudiences = None
    workers: PhaseWorkers | None = Field(None, description="Worker scale during this phase.")
    metrics: list[MetricOverride] | None = Field(
        None,
        max_length=20,
        description="Thresholds that replace those of spec.analysis.metrics in this phase.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        },
    )

    @property
    def soak(self) -> timedelta:
        return parse_duration(self.duration)


class SecretKeyRef(SpecModel):
    """A key of a Secret in the Rollout's namespace."""

    name: str = Field(pattern=DNS_SUBDOMAIN_PATTERN, max_length=253, description="Secret name.")
    key: str = Field(pattern=SECRET_KEY_PATTERN, max_length=253, description="Key in the Secret.")


class Authorization(SpecModel):
    """HTTP Authorization header for Prometheus, e.g. `Bearer <token>`, read from a Secret."""

    secret_ref: SecretKeyRef = Field(description="Secret key holding the whole header value.")


class PrometheusSource(SpecModel):
    """The Prometheus (or compatible: Thanos, Mimir, VictoriaMetrics) to query."""

    address: Annotated[
        str,
        Rule(
            "isURL(self) && url(self).getHostname() != ''",
            "spec.analysis.prometheus.address must be a URL with a host, "
            "e.g. http://prometheus.monitoring:9090",
            _has_a_host,
        ),
    ] = Field(
        pattern=r"^https?://[^\s]+$",
        max_length=2048,
        description="Base URL, e.g. http://prometheus.monitoring:9090.",
    )
    timeout: Duration = Field("5s", description="Timeout of each query (Go duration).")
    authorization: Authorization | None = Field(
        None, description="Authorization header from a Secret."
    )
    insecure_skip_verify: bool = Field(
        False, description="Skip TLS certificate verification (not for production)."
    )

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout).total_seconds()


class Analysis(SpecModel):
    """Health analysis: queries evaluated every interval while the rollout is active."""

    interval: Annotated[
        str, Field(max_length=32), IS_A_DURATION, AT_LEAST_A_SECOND, DURATION_AT_MOST_A_YEAR
    ] = Field("30s", description="Time between two evaluations (Go duration, at least 1s).")
    prometheus: PrometheusSource = Field(description="Where the queries run.")
    metrics: list[Metric] = Field(
        min_length=1,
        max_length=20,
        description="Metrics and their thresholds.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        },
    )
    error_limit: int = Field(
        4,
        ge=1,
        le=100,
        description="Consecutive query errors after which a metric counts as failing.",
    )
    served: Served | None = Field(
        None,
        description="Check that the apps serve the published percentage before a phase soaks "
        "(ramp_flag_served_percentage, docs/flags.md).",
    )

    @property
    def every(self) -> timedelta:
        return parse_duration(self.interval)

    @model_validator(mode="after")
    def _distinct_names(self) -> Analysis:
        names = [m.name for m in self.metrics]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"spec.analysis.metrics: duplicate metric name {name!r}")
        return self


class FailurePolicy(SpecModel):
    """What a sustained critical breach does."""

    action: Literal["Rollback", "Pause"] = Field(
        "Rollback", description="Rollback (publish a lower percentage) or Pause (hold)."
    )
    rollback_to: Literal["Zero", "PreviousPhase"] = Field(
        "Zero", description="Zero (0 %) or PreviousPhase (the phase before the failing one)."
    )
    disable_flag: bool = Field(
        False, description="Also set the master toggle off in the ConfigMap."
    )


NotificationFormat = Literal["Slack", "PagerDuty", "CloudEvents"]


class Notification(SpecModel):
    """A webhook called on transitions, in the body format its receiver reads."""

    secret_ref: SecretKeyRef = Field(
        description="Secret key holding the webhook URL. For format PagerDuty: the Events API "
        "v2 integration key (routing key, 32 characters), sent to "
        "https://events.pagerduty.com/v2/enqueue, or a URL carrying it as its user part "
        "(https://KEY@events.eu.pagerduty.com/v2/enqueue)."
    )
    on: list[Transition] | None = Field(
        None, max_length=16, description="Transitions to notify; all when empty."
    )
    format: NotificationFormat = Field(
        "Slack",
        description="Body of each request. Slack (the default): Slack-compatible JSON with a "
        "`rollout` object. PagerDuty: an Events API v2 event, `trigger` when a breach rolls "
        "back or pauses the rollout and `resolve` when it completes, is retried or resumed; "
        "other transitions are not sent. CloudEvents: a structured-mode CloudEvents 1.0 JSON "
        "event of type dev.ramp.rollout.<transition in lower case>.",
    )


DRAIN_NEEDS_ANALYSIS = (
    "spec.workers[].drain needs spec.analysis: its query runs on spec.analysis.prometheus "
    "every spec.analysis.interval"
)


class RolloutSpec(SpecModel):
    """A feature rolled out in phases, with health analysis and automatic rollback."""

    enabled: bool = Field(
        True,
        description="Master toggle. false publishes 0 % (and enabled=false) at once; "
        "progress is kept and resumes when set back to true.",
    )
    paused: bool = Field(
        False,
        description="Hold the rollout where it is (GitOps-friendly pause); the soak clock stops.",
    )
    flag: FlagSpec = Field(description="The flag applications read.")
    workers: list[WorkerRef] | None = Field(
        None, max_length=20, description="Worker workloads scaled per phase."
    )
    phases: Annotated[
        list[Phase],
        Rule(
            "self.map(p, p.percentage).isSorted()",
            "spec.phases: percentages may not decrease from one phase to the next",
            lambda phases: all(a.percentage <= b.percentage for a, b in pairwise(phases)),
        ),
    ] = Field(
        min_length=1,
        max_length=20,
        description="Ordered phases; percentages may not decrease.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        },
    )
    analysis: Analysis | None = Field(None, description="Health analysis in Prometheus.")
    failure_policy: FailurePolicy = Field(
        default_factory=FailurePolicy, description="What a sustained critical breach does."
    )
    notifications: list[Notification] | None = Field(
        None, max_length=10, description="Webhooks called on transitions."
    )
    policy: Name | None = Field(
        None,
        description="A RolloutPolicy in this namespace supplying metrics, analysis defaults, "
        "failurePolicy, notifications, promotionWindows and freeze; what this Rollout sets "
        "wins, field by field (docs/policies.md). While it is missing or invalid the rollout "
        "holds, with the PolicyResolved condition naming it.",
    )
    policy_args: dict[str, POLICY_ARG] | None = Field(
        None,
        max_length=20,
        description="Values of the policy's args, by name: its queries use them as "
        "{{ args.NAME }}.",
    )
    promotion_windows: list[PromotionWindow] | None = Field(
        None,
        max_length=20,
        description="Promotion (and the start at 0 %) happens only inside one of these weekly "
        "windows; soak, analysis and rollbacks go on at all times. Replaces the policy's; [] "
        "lifts them.",
    )
    freeze: Freeze | None = Field(
        None,
        description="No promotion (nor start) until the freeze ends; usually set on a "
        "RolloutPolicy. Rollbacks go on; `ramp promote --override-freeze` promotes anyway.",
    )

    rules = (
        Rule(
            "has(self.policy) || !has(self.phases) || self.phases.all(p, !has(p.metrics) ||"
            " p.metrics.all(o, has(self.analysis)"
            " && self.analysis.metrics.exists(m, m.name == o.name)))",
            "spec.phases[].metrics: every override must name a metric defined in "
            "spec.analysis.metrics",
            # A policy's metrics are checked once it is resolved (engine/effective.py).
            lambda spec: (
                spec.policy is not None
                or all(
                    override.name in spec.metric_names
                    for phase in spec.phases
                    for override in phase.metrics or []
                )
            ),
            field_path=".phases",
        ),
        Rule(
            "!has(self.phases) || !self.phases.exists(p, has(p.workers))"
            " || (has(self.workers) && size(self.workers) > 0)",
            "spec.phases[].workers needs spec.workers naming the workloads to scale",
            lambda spec: bool(spec.workers) or all(p.workers is None for p in spec.phases),
            field_path=".phases",
        ),
        Rule(
            "!has(self.workers) || !self.workers.exists(w, has(w.drain)) || has(self.analysis)",
            DRAIN_NEEDS_ANALYSIS,
            lambda spec: spec.analysis is not None or not any(w.drain for w in spec.workers or []),
            field_path=".workers",
        ),
        *SPEC_RULES,
    )

    @property
    def metric_names(self) -> set[str]:
        return {m.name for m in self.analysis.metrics} if self.analysis else set()

    @model_validator(mode="after")
    def _phase_names_and_compare_overrides(self) -> RolloutSpec:
        # Not Rules: admission refuses a duplicate name by the list's map key (no CEL), and
        # no CEL rule reads a compare override against its metric.
        names: set[str] = set()
        compared = {m.name for m in self.analysis.metrics if m.compare} if self.analysis else set()
        for i, phase in enumerate(self.phases):
            if phase.name in names:
                raise ValueError(f"spec.phases[{i}].name: duplicate phase name {phase.name!r}")
            names.add(phase.name)
            for override in phase.metrics or []:
                if override.name in compared and (override.warning or override.critical):
                    raise ValueError(
                        f"spec.phases[{i}].metrics: {override.name!r} is a compare metric; "
                        "it has no warning or critical threshold to override"
                    )
        check_phase_audiences(self.flag.audiences, self.phases)
        return self
