"""Admission (OpenAPI schema + CEL rules generated from the models) rejects invalid Rollouts
before the operator sees them, and each message names the offending field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.support.cluster import ROOT, Cluster

GROUP, VERSION, PLURAL = "ramp.dev", "v1alpha1", "rollouts"

VALID: dict[str, Any] = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "Rollout",
    "metadata": {"name": "subject"},
    "spec": {
        "flag": {
            "key": "feature",
            "configMap": "feature-flag",
            "env": {"enabled": "FEATURE_ENABLED", "percentage": "FEATURE_PERCENTAGE"},
            "restartOnChange": [{"kind": "Deployment", "name": "backend"}],
        },
        "workers": [
            {
                "deployment": "worker",
                "hpa": "worker",
                "drain": {"query": "sum(queue_depth)", "timeout": "30m"},
            }
        ],
        "phases": [
            {"name": "canary", "percentage": 5, "duration": "1h", "workers": {"replicas": 2}},
            {"name": "half", "percentage": 50, "duration": "90m", "approval": "Manual"},
            {"name": "all", "percentage": 100},
        ],
        "analysis": {
            "interval": "30s",
            "prometheus": {"address": "http://prometheus:9090", "timeout": "5s"},
            "metrics": [
                {"name": "errors", "query": "sum(x)", "critical": {"above": 0.05, "for": "5m"}},
                {
                    "name": "p99",
                    "query": "max(y)",
                    "baseline": {"capture": "AtStart"},
                    "critical": {"aboveBaselineRatio": 2.0, "for": "10m"},
                },
                {
                    "name": "vs-control",
                    "compare": {
                        "failures": 'jobs_failed_total{queue="reports"}',
                        "total": 'jobs_total{queue="reports"}',
                    },
                },
            ],
        },
        "failurePolicy": {"action": "Rollback", "rollbackTo": "PreviousPhase"},
        "notifications": [{"secretRef": {"name": "hook", "key": "url"}, "on": ["RolledBack"]}],
    },
}


def spec_with(path: str, value: Any) -> dict[str, Any]:
    """VALID with one field replaced; `path` is dotted, list indexes as numbers; DELETE removes."""
    manifest = copy.deepcopy(VALID)
    node: Any = manifest["spec"]
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return manifest


DELETE = object()

# (case id, changed field, new value, text the error must contain: the field path)
INVALID: list[tuple[str, str, Any, str]] = [
    ("percentage-over-100", "phases.2.percentage", 101, "spec.phases[2].percentage"),
    ("percentage-negative", "phases.0.percentage", -1, "spec.phases[0].percentage"),
    ("percentage-three-decimals", "phases.0.percentage", 5.125, "spec.phases[0].percentage"),
    ("percentages-decrease", "phases.1.percentage", 2, "spec.phases"),
    ("duplicate-phase-names", "phases.1.name", "canary", "spec.phases[1]"),
    ("bad-duration", "phases.0.duration", "1 hour", "spec.phases[0].duration"),
    ("bad-for-duration", "analysis.metrics.0.critical.for", "5mins", "critical.for"),
    ("bad-approval", "phases.1.approval", "Sometimes", "spec.phases[1].approval"),
    ("no-phases", "phases", [], "spec.phases"),
    ("phase-name-uppercase", "phases.0.name", "Canary", "spec.phases[0].name"),
    ("threshold-without-bound", "analysis.metrics.0.critical", {"for": "5m"}, "critical"),
    ("metric-without-threshold", "analysis.metrics.0.critical", DELETE, "metrics[0]"),
    ("ratio-needs-baseline", "analysis.metrics.1.baseline", DELETE, "metrics[1]"),
    ("duplicate-metric-names", "analysis.metrics.1.name", "errors", "spec.analysis.metrics[1]"),
    (
        "override-names-unknown-metric",
        "phases.0.metrics",
        [{"name": "latency", "critical": {"above": 1}}],
        "spec.phases",
    ),
    ("min-above-max", "phases.0.workers", {"minReplicas": 5, "maxReplicas": 2}, "workers"),
    ("empty-phase-workers", "phases.0.workers", {}, "spec.phases[0].workers"),
    ("negative-replicas", "phases.0.workers", {"replicas": -1}, "workers.replicas"),
    ("worker-names-nothing", "workers.0", {}, "spec.workers[0]"),
    ("bad-configmap-name", "flag.configMap", "Feature_Flag", "spec.flag.configMap"),
    ("bad-env-key", "flag.env.percentage", "FEATURE-PERCENT", "spec.flag.env.percentage"),
    ("same-env-keys", "flag.env.percentage", "FEATURE_ENABLED", "spec.flag.env"),
    ("bad-flag-key", "flag.key", "-feature", "spec.flag.key"),
    ("missing-flag", "flag", DELETE, "spec.flag"),
    ("bad-restart-kind", "flag.restartOnChange.0.kind", "Job", "restartOnChange[0].kind"),
    ("bad-on-no-data", "analysis.metrics.0.onNoData", "Panic", "onNoData"),
    ("bad-failure-action", "failurePolicy.action", "Explode", "spec.failurePolicy.action"),
    ("bad-rollback-to", "failurePolicy.rollbackTo", "Yesterday", "spec.failurePolicy.rollbackTo"),
    ("interval-too-short", "analysis.interval", "500ms", "spec.analysis.interval"),
    ("bad-prometheus-address", "analysis.prometheus.address", "prometheus:9090", "address"),
    ("error-limit-zero", "analysis.errorLimit", 0, "spec.analysis.errorLimit"),
    ("empty-query", "analysis.metrics.0.query", "", "spec.analysis.metrics[0].query"),
    ("bad-notification-event", "notifications.0.on", ["Exploded"], "spec.notifications[0].on"),
    ("negative-ratio", "analysis.metrics.1.critical.aboveBaselineRatio", -2, "aboveBaselineRatio"),
    ("enabled-not-bool", "enabled", "yes", "spec.enabled"),
    ("metric-without-query-or-compare", "analysis.metrics.0.query", DELETE, "metrics[0]"),
    ("compare-and-query", "analysis.metrics.2.query", "sum(x)", "spec.analysis.metrics[2]"),
    ("compare-with-critical", "analysis.metrics.2.critical", {"above": 1}, "metrics[2]"),
    ("compare-bad-selector", "analysis.metrics.2.compare.failures", "jobs{", "compare.failures"),
    ("compare-same-variants", "analysis.metrics.2.compare.control", "on", "metrics[2].compare"),
    ("compare-confidence-one", "analysis.metrics.2.compare.confidence", 1, "compare.confidence"),
    ("compare-max-ratio-zero", "analysis.metrics.2.compare.maxRatio", 0, "compare.maxRatio"),
    ("drain-without-analysis", "analysis", DELETE, "spec.workers[].drain needs spec.analysis"),
    ("drain-bad-timeout", "workers.0.drain.timeout", "30 min", "spec.workers[0].drain.timeout"),
    ("drain-empty-query", "workers.0.drain.query", "", "spec.workers[0].drain.query"),
]


def create(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> Any:
    return cluster.custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, manifest, dry_run="All"
    )


@pytest.mark.parametrize(("case", "path", "value", "field"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_rollout_is_rejected_naming_the_field(
    cluster: Cluster, namespace: str, rollout_crd: str, case: str, path: str, value: Any, field: str
) -> None:
    with pytest.raises(client.ApiException) as rejected:
        create(cluster, namespace, spec_with(path, value))
    assert rejected.value.status == 422, rejected.value.body
    message = json.loads(rejected.value.body)["message"]
    assert field in message, f"{case}: the error does not name {field}: {message}"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("phases.0.duration", "spec.phases[0].duration"),
        ("analysis.metrics.0.critical.for", "critical.for"),
        ("analysis.interval", "spec.analysis.interval"),
    ],
)
def test_a_duration_in_days_is_told_to_use_hours(
    cluster: Cluster, namespace: str, rollout_crd: str, path: str, field: str
) -> None:
    with pytest.raises(client.ApiException) as rejected:
        create(cluster, namespace, spec_with(path, "1d"))
    message = json.loads(rejected.value.body)["message"]
    assert field in message and "use hours, e.g. 24h" in message, message
    assert "should match" not in message and "[0-9]" not in message, message
    assert "duration(" not in message, "no CEL evaluation error beside the hint"


def test_distinct_invalid_cases_are_at_least_25() -> None:
    assert len({case for case, *_ in INVALID}) >= 25


def test_the_valid_reference_is_accepted(
    cluster: Cluster, namespace: str, rollout_crd: str
) -> None:
    create(cluster, namespace, VALID)


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_pass_a_server_side_dry_run(
    cluster: Cluster, namespace: str, rollout_crd: str, path: Path
) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc:
            continue
        doc.setdefault("metadata", {})["namespace"] = namespace
        cluster.kubectl(
            "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=yaml.safe_dump(doc)
        )


COMPARISON: dict[str, Any] = {
    "treatment": {"units": 1500.0, "failures": 45.0, "failureRate": 0.03},
    "control": {"units": 28500.0, "failures": 285.0, "failureRate": 0.01},
    "ratio": 3.0,
    "ratioLow": 1.68,
    "ratioHigh": 4.76,
    "evidence": 112.5,
    "verdict": "Regressed",
    "unitsPerSecond": 200.0,
}
"""What a compare metric shows (in status and in the snapshot)."""

FULL_STATUS: dict[str, Any] = {
    "phase": "RolledBack",
    "currentPhase": "canary",
    "currentPhaseIndex": 0,
    "percentage": 5.0,
    "enabled": False,
    "bucketing": "PythonProviderCBOR",
    "phaseStartedAt": "2026-03-01T12:00:00Z",
    "nextPromotionAt": "2026-03-01T13:00:00Z",
    "pausedAt": "2026-03-01T12:30:00Z",
    "message": "rolled back from half to 5 %",
    "health": "Critical",
    "baseline": {"p99": 0.41},
    "metrics": [
        {
            "name": "p99",
            "value": 0.9,
            "verdict": "Critical",
            "since": "2026-03-01T12:40:00Z",
            "observedAt": "2026-03-01T12:50:00Z",
            "message": "0.9 is above 2x baseline 0.41",
            "criticalSince": "2026-03-01T12:40:00Z",
            "warningSince": "2026-03-01T12:40:00Z",
            "consecutiveErrors": 0,
        },
        {
            "name": "vs-control",
            "verdict": "Critical",
            "since": "2026-03-01T12:40:00Z",
            "observedAt": "2026-03-01T12:50:00Z",
            "consecutiveErrors": 0,
            "compare": {
                **COMPARISON,
                "startedAt": "2026-03-01T12:00:00Z",
                "observedUntil": "2026-03-01T12:50:00Z",
                "maxRatio": 1.0,
                "logLikelihood": [-12.5, -3.25, 0.0],
            },
        },
    ],
    "lastAnalysisAt": "2026-03-01T12:50:00Z",
    "conditions": [
        {
            "type": "Healthy",
            "status": "False",
            "reason": "Critical",
            "message": "p99 breached",
            "lastTransitionTime": "2026-03-01T12:40:00Z",
            "observedGeneration": 3,
        }
    ],
    "history": [
        {
            "time": "2026-03-01T12:50:00Z",
            "phase": "RolledBack",
            "step": "canary",
            "percentage": 5.0,
            "audiences": ["internal", "beta"],
            "propagationSeconds": 22.1,
            "reason": "RolledBack",
            "message": "rolled back",
            "seq": 4,
        }
    ],
    "snapshot": {
        "takenAt": "2026-03-01T12:50:00Z",
        "reason": "p99 breached",
        "step": "half",
        "percentage": 50.0,
        "metrics": [
            {"name": "p99", "value": 0.9, "verdict": "Critical"},
            {
                "name": "vs-control",
                "verdict": "Critical",
                "compare": COMPARISON,
            },
        ],
    },
    "workerOriginals": {"worker": {"replicas": 2, "minReplicas": 1, "maxReplicas": 4}},
    "rolledBackFrom": "half",
    "observedGeneration": 3,
    "control": {
        "promote": {
            "phaseIndex": 0,
            "full": True,
            "overrideFreeze": True,
            "requestedAt": "2026-03-01T12:00:00Z",
        },
        "pause": {"requestedAt": "2026-03-01T12:00:00Z", "by": "ramp"},
        "abort": {"requestedAt": "2026-03-01T12:00:00Z"},
        "retry": {"requestedAt": "2026-03-01T12:00:00Z"},
    },
    "flagDisabledAt": "2026-03-01T12:50:00Z",
    "awaitingPublishSince": "2026-03-01T12:50:00Z",
    "sequence": 4,
    "outbox": [
        {
            "seq": 4,
            "time": "2026-03-01T12:50:00Z",
            "type": "Warning",
            "reason": "RolledBack",
            "message": "rolled back",
            "step": "canary",
            "percentage": 5.0,
            "metric": "p99",
            "incident": 4,
            "pending": ["webhook-0"],
        }
    ],
    "workerCorrections": {"worker": 2},
    "audiences": ["internal", "beta"],
    "served": "5% +2",
    "instances": {
        "percentage": 5.0,
        "since": "2026-03-01T12:40:00Z",
        "lowered": True,
        "instances": 12,
        "behind": 3,
        "servedAt": "2026-03-01T12:41:00Z",
        "overdue": True,
        "message": "3 of 12 instances still serve 10 %",
    },
    "incident": 4,
    "drains": {
        "worker": {
            "startedAt": "2026-03-01T12:00:00Z",
            "deadline": "2026-03-01T12:30:00Z",
            "scale": {"replicas": 5},
            "left": 1240.0,
            "observedAt": "2026-03-01T12:03:00Z",
            "error": "connection refused",
        }
    },
    "draining": "worker: 1,240 left, 27m to timeout",
    "policy": {
        "name": "reptate",
        "generation": 3,
        "contributed": ["analysis.metrics[errors]", "failurePolicy"],
    },
}


def test_a_status_with_every_field_survives_a_round_trip(
    cluster: Cluster, namespace: str, rollout_crd: str
) -> None:
    cluster.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, VALID)
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "subject", {"status": FULL_STATUS}
    )
    back = cluster.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "subject")
    assert back["status"] == FULL_STATUS


def test_every_status_field_of_the_model_is_in_the_round_trip() -> None:
    from ramp.api import RolloutStatus

    declared = {f.alias or name for name, f in RolloutStatus.model_fields.items()}
    assert declared == set(FULL_STATUS)
