"""The Rollout spec: what users write in Git. Every description here is what `kubectl explain`
shows; admission rules (CEL) sit next to the fields they guard, with messages naming them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from ramp.api.base import SpecModel, cel, validations
from ramp.api.durations import DURATION_HINT, DURATION_PATTERN, parse_duration
from ramp.api.served import Served
from ramp.flags import DEFAULT_SCHEME

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ENV_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
FLAG_KEY_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"

TWO_DECIMALS = cel(
    "double(int(self * 100.0 + 0.5)) - self * 100.0 < 0.000001"
    " && self * 100.0 - double(int(self * 100.0 + 0.5)) < 0.000001",
    "a percentage has at most two decimals (e.g. 12.5 or 33.33)",
)


def _two_decimals(value: float) -> float:
    if abs(round(value * 100) - value * 100) > 1e-6:
        raise ValueError(f"{value} has more than two decimals (e.g. 12.5 or 33.33)")
    return round(value, 2)


MAX_DURATION = "8760h"
"""The longest duration admitted (a year): far past any soak, and short enough that a time plus
it is still a date (a larger one overflowed the engine's clock arithmetic)."""

IS_A_DURATION = cel(f"self.matches('{DURATION_PATTERN}')", f"not a duration; {DURATION_HINT}")
DURATION_AT_MOST_A_YEAR = cel(
    # Judged only for a duration: CEL's duration() of anything else is an evaluation error.
    f"!self.matches('{DURATION_PATTERN}') || duration(self) <= duration('{MAX_DURATION}')",
    f"a duration may be at most {MAX_DURATION} (365 days)",
)


def _duration(value: str) -> str:
    try:
        too_long = parse_duration(value) > parse_duration(MAX_DURATION)
    except OverflowError:
        too_long = True
    if too_long:
        raise ValueError(f"{value} is longer than {MAX_DURATION}; a duration may be at most a year")
    return value


def _http_url(value: str) -> str:
    try:
        host = urlsplit(value).hostname
    except ValueError as e:
        raise ValueError(f"{value!r} is not a URL: {e}") from e
    if not host:
        raise ValueError(f"{value!r} names no host; write it like http://prometheus:9090")
    return value


Percentage = Annotated[
    float,
    Field(ge=0, le=100, json_schema_extra=validations(TWO_DECIMALS)),
    AfterValidator(_two_decimals),
]
Duration = Annotated[
    str,
    Field(max_length=32, json_schema_extra=validations(IS_A_DURATION, DURATION_AT_MOST_A_YEAR)),
    AfterValidator(_duration),
]
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

    model_config = {
        "json_schema_extra": validations(
            cel(
                "!has(self.enabled) || !has(self.percentage) || self.enabled != self.percentage",
                "spec.flag.env: enabled and percentage must be different keys",
            )
        )
    }

    @model_validator(mode="after")
    def _distinct(self) -> EnvKeys:
        if self.enabled is not None and self.enabled == self.percentage:
            raise ValueError("spec.flag.env: enabled and percentage must be different keys")
        return self


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

    model_config = {
        "json_schema_extra": validations(
            cel(
                "has(self.deployment) || has(self.hpa)",
                "spec.workers: each worker names a deployment, an hpa, or both",
            )
        )
    }

    @model_validator(mode="after")
    def _names_something(self) -> WorkerRef:
        if self.deployment is None and self.hpa is None:
            raise ValueError("spec.workers: each worker names a deployment, an hpa, or both")
        return self


class PhaseWorkers(SpecModel):
    """Worker scale during a phase: `replicas` (no HPA) or `minReplicas`/`maxReplicas` (HPA)."""

    replicas: int | None = Field(None, ge=0, le=10000, description="Deployment replicas.")
    min_replicas: int | None = Field(None, ge=1, le=10000, description="HPA minReplicas.")
    max_replicas: int | None = Field(None, ge=1, le=10000, description="HPA maxReplicas.")

    model_config = {
        "json_schema_extra": validations(
            cel(
                "has(self.replicas) || has(self.minReplicas) || has(self.maxReplicas)",
                "workers: set replicas, or minReplicas and/or maxReplicas",
            ),
            cel(
                "!has(self.minReplicas) || !has(self.maxReplicas)"
                " || self.minReplicas <= self.maxReplicas",
                "workers.minReplicas must not exceed workers.maxReplicas",
            ),
        )
    }

    @model_validator(mode="after")
    def _consistent(self) -> PhaseWorkers:
        if self.replicas is None and self.min_replicas is None and self.max_replicas is None:
            raise ValueError("workers: set replicas, or minReplicas and/or maxReplicas")
        if (
            self.min_replicas is not None
            and self.max_replicas is not None
            and self.min_replicas > self.max_replicas
        ):
            raise ValueError(
                f"workers.minReplicas ({self.min_replicas}) must not exceed "
                f"workers.maxReplicas ({self.max_replicas})"
            )
        return self


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

    model_config = {
        "json_schema_extra": validations(
            cel(
                "has(self.above) || has(self.below) || has(self.aboveBaselineRatio)"
                " || has(self.belowBaselineRatio)",
                "a threshold needs one of above, below, aboveBaselineRatio or belowBaselineRatio",
            )
        )
    }

    @model_validator(mode="after")
    def _has_bound(self) -> Threshold:
        if not self.bounds_set:
            raise ValueError(
                "a threshold needs one of above, below, aboveBaselineRatio or belowBaselineRatio"
            )
        return self

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

    model_config = {
        "json_schema_extra": validations(
            cel(
                "(has(self.treatment) ? self.treatment : 'on')"
                " != (has(self.control) ? self.control : 'off')",
                "compare.treatment and compare.control must be different variants",
            )
        )
    }

    @model_validator(mode="after")
    def _distinct(self) -> Compare:
        if self.treatment == self.control:
            raise ValueError(
                f"compare.treatment and compare.control are both {self.treatment!r}; they must "
                "name different variants"
            )
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

    model_config = {
        "json_schema_extra": validations(
            cel(
                "has(self.query) != has(self.compare)",
                "a metric has either query (judged by thresholds) or compare, not both",
            ),
            cel(
                "!has(self.compare) || !(has(self.warning) || has(self.critical)"
                " || has(self.baseline))",
                "a compare metric has no warning, critical or baseline: the sequential test "
                "gives its verdict",
            ),
            cel(
                "has(self.compare) || has(self.warning) || has(self.critical)",
                "a metric needs a warning or a critical threshold",
            ),
            cel(
                "has(self.baseline) || !((has(self.critical) && "
                "(has(self.critical.aboveBaselineRatio) || has(self.critical.belowBaselineRatio)))"
                " || (has(self.warning) && (has(self.warning.aboveBaselineRatio)"
                " || has(self.warning.belowBaselineRatio))))",
                "a baseline ratio threshold needs baseline: {capture: AtStart} on the metric",
            ),
        )
    }

    @model_validator(mode="after")
    def _consistent(self) -> Metric:
        if (self.query is None) == (self.compare is None):
            raise ValueError(
                f"metric {self.name}: give either query (judged by thresholds) or compare, not both"
            )
        if self.compare is not None:
            extra = [
                field
                for field, value in (
                    ("warning", self.warning),
                    ("critical", self.critical),
                    ("baseline", self.baseline),
                )
                if value is not None
            ]
            if extra:
                raise ValueError(
                    f"metric {self.name}: a compare metric has no {', '.join(extra)}: the "
                    "sequential test gives its verdict (tune compare.maxRatio and "
                    "compare.confidence instead)"
                )
            return self
        if self.warning is None and self.critical is None:
            raise ValueError(f"metric {self.name}: needs a warning or a critical threshold")
        uses = any(t is not None and t.uses_baseline for t in (self.warning, self.critical))
        if uses and self.baseline is None:
            raise ValueError(
                f"metric {self.name}: a baseline ratio threshold needs "
                "baseline: {capture: AtStart} on the metric"
            )
        return self


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

    address: Annotated[str, AfterValidator(_http_url)] = Field(
        pattern=r"^https?://[^\s]+$",
        max_length=2048,
        description="Base URL, e.g. http://prometheus.monitoring:9090.",
        json_schema_extra=validations(
            cel(
                "isURL(self) && url(self).getHostname() != ''",
                "spec.analysis.prometheus.address must be a URL with a host, "
                "e.g. http://prometheus.monitoring:9090",
            )
        ),
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

    interval: Duration = Field(
        "30s",
        description="Time between two evaluations (Go duration, at least 1s).",
        json_schema_extra=validations(
            IS_A_DURATION,
            cel(
                f"!self.matches('{DURATION_PATTERN}') || duration(self) >= duration('1s')",
                "spec.analysis.interval must be at least 1s",
            ),
            DURATION_AT_MOST_A_YEAR,
        ),
    )
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
    def _interval(self) -> Analysis:
        if self.every < timedelta(seconds=1):
            raise ValueError("spec.analysis.interval must be at least 1s")
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


class Notification(SpecModel):
    """A webhook (Slack-compatible JSON) called on transitions."""

    secret_ref: SecretKeyRef = Field(description="Secret key holding the webhook URL.")
    on: list[Transition] | None = Field(
        None, max_length=16, description="Transitions to notify; all when empty."
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
    phases: list[Phase] = Field(
        min_length=1,
        max_length=20,
        description="Ordered phases; percentages may not decrease.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            **validations(
                cel(
                    "self.map(p, p.percentage).isSorted()",
                    "spec.phases: percentages may not decrease from one phase to the next",
                )
            ),
        },
    )
    analysis: Analysis | None = Field(None, description="Health analysis in Prometheus.")
    failure_policy: FailurePolicy = Field(
        default_factory=FailurePolicy, description="What a sustained critical breach does."
    )
    notifications: list[Notification] | None = Field(
        None, max_length=10, description="Webhooks called on transitions."
    )

    model_config = {
        "json_schema_extra": validations(
            cel(
                "!has(self.phases) || self.phases.all(p, !has(p.metrics) || p.metrics.all(o,"
                " has(self.analysis) && self.analysis.metrics.exists(m, m.name == o.name)))",
                "spec.phases[].metrics: every override must name a metric defined in "
                "spec.analysis.metrics",
                ".phases",
            ),
            cel(
                "!has(self.phases) || !self.phases.exists(p, has(p.workers))"
                " || (has(self.workers) && size(self.workers) > 0)",
                "spec.phases[].workers needs spec.workers naming the workloads to scale",
                ".phases",
            ),
        )
    }

    @model_validator(mode="after")
    def _cross_field(self) -> RolloutSpec:
        previous: Phase | None = None
        seen: set[str] = set()
        defined = {m.name for m in self.analysis.metrics} if self.analysis else set()
        compared = {m.name for m in self.analysis.metrics if m.compare} if self.analysis else set()
        for i, phase in enumerate(self.phases):
            if phase.name in seen:
                raise ValueError(f"spec.phases[{i}].name: duplicate phase name {phase.name!r}")
            seen.add(phase.name)
            if previous is not None and phase.percentage < previous.percentage:
                raise ValueError(
                    f"spec.phases[{i}].percentage: {phase.percentage:g} is lower than the "
                    f"previous phase ({previous.percentage:g}); percentages may not decrease"
                )
            for override in phase.metrics or []:
                if override.name not in defined:
                    raise ValueError(
                        f"spec.phases[{i}].metrics: {override.name!r} is not defined in "
                        "spec.analysis.metrics"
                    )
                if override.name in compared and (override.warning or override.critical):
                    raise ValueError(
                        f"spec.phases[{i}].metrics: {override.name!r} is a compare metric; "
                        "it has no warning or critical threshold to override"
                    )
            if phase.workers is not None and not self.workers:
                raise ValueError(
                    f"spec.phases[{i}].workers needs spec.workers naming the workloads to scale"
                )
            previous = phase
        return self
