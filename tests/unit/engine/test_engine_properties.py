"""Properties that hold whatever happens: random specs, metric values, clocks and actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine import Observations, PublishFlag, analysis_due, decide
from ramp.engine.observations import MetricSample
from tests.support.engine import T0
from tests.support.windows import freezes, promotion_windows


@st.composite
def specs(draw: st.DrawFn) -> RolloutSpec:
    count = draw(st.integers(1, 4))
    cents = sorted(draw(st.lists(st.integers(0, 10000), min_size=count, max_size=count)))
    phases = [
        {
            "name": f"p{i}",
            "percentage": c / 100,
            "duration": draw(st.sampled_from(["0s", "30s", "5m", "1h"])),
            "approval": draw(st.sampled_from(["Automatic", "Automatic", "Manual"])),
        }
        for i, c in enumerate(cents)
    ]
    critical: dict[str, Any] = {"above": 0.5, "for": draw(st.sampled_from(["0s", "1m", "5m"]))}
    spec = {
        "flag": {"key": "f", "configMap": "f"},
        "phases": phases,
        "analysis": {
            "interval": draw(st.sampled_from(["10s", "30s", "1m"])),
            "prometheus": {"address": "http://p:9090"},
            "errorLimit": draw(st.integers(1, 4)),
            "metrics": [
                {
                    "name": "errors",
                    "query": "q",
                    "critical": critical,
                    "onNoData": draw(st.sampled_from(["Pause", "Fail", "Ignore"])),
                },
                {"name": "slow", "query": "q", "warning": {"above": 0.5}},
            ],
        },
        "failurePolicy": {
            "action": draw(st.sampled_from(["Rollback", "Pause"])),
            "rollbackTo": draw(st.sampled_from(["Zero", "PreviousPhase"])),
        },
    }
    windows, freeze = draw(promotion_windows()), draw(freezes(T0))
    if windows is not None:
        spec["promotionWindows"] = windows
    if freeze is not None:
        spec["freeze"] = freeze
    return RolloutSpec.model_validate(spec)


values = st.one_of(st.floats(0, 1), st.none(), st.just("error"))
actions = st.sampled_from(["none"] * 6 + ["pause", "resume", "promote", "abort", "retry", "toggle"])
steps = st.lists(st.tuples(st.integers(0, 900), values, values, actions), min_size=1, max_size=60)


def sample(v: float | str | None) -> MetricSample:
    return MetricSample(error="down") if v == "error" else MetricSample(value=v)  # type: ignore[arg-type]


def with_action(status: RolloutStatus, action: str) -> RolloutStatus:
    data = status.model_dump(by_alias=True, exclude_none=True, mode="json")
    control = data.setdefault("control", {})
    stamp = T0.isoformat()
    if action == "pause":
        control["pause"] = {"requestedAt": stamp}
    elif action == "resume" and control.pop("pause", None) is not None:
        control["resume"] = {"requestedAt": stamp}  # what `ramp resume` writes
    elif action == "promote":
        control["promote"] = {"phaseIndex": status.current_phase_index or 0}
    elif action == "abort":
        control["abort"] = {"requestedAt": stamp}
    elif action == "retry":
        control["retry"] = {"requestedAt": stamp}
    return RolloutStatus.model_validate(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), script=steps)
def test_rollout_invariants(spec: RolloutSpec, script: list[tuple[int, Any, Any, str]]) -> None:
    status = RolloutStatus()
    now = T0
    published = 0.0
    served: PublishFlag | None = None
    for delay, errors, slow, action in script:
        now += timedelta(seconds=delay)
        enabled = spec.enabled
        if action == "toggle":
            spec = spec.model_copy(update={"enabled": not spec.enabled})
        elif action != "none":
            status = with_action(status, action)
        metrics = None
        if analysis_due(spec, status, now):
            metrics = {"errors": sample(errors), "slow": sample(slow)}
        # The ConfigMap serves what the previous decision published (the shell applied it).
        seen = Observations(metrics=metrics, published=served)
        # A `ramp promote` may wait in status.control until its phase is reached.
        requested = status.control is not None and status.control.promote is not None
        decision = decide(spec, status, now, seen)

        # The same inputs give the same decision.
        assert decide(spec, status, now, seen) == decision

        new = decision.status
        flag = next(e for e in decision.effects if isinstance(e, PublishFlag))
        reasons = [a.reason for a in decision.announced]
        # The published percentage never exceeds the current phase's.
        assert new.current_phase_index is None or flag.percentage <= (
            spec.phases[new.current_phase_index].percentage
        )
        assert flag.percentage == (new.percentage or 0)
        # It only decreases on rollback or disable (or when retrying from a rolled-back state).
        if flag.percentage < published:
            assert {"RolledBack", "Disabled"} & set(reasons), (reasons, published, flag)
        # No automatic promotion while a critical metric fails or, under Pause, has no data.
        promoted = {"Promoted", "Completed"} & set(reasons)
        if promoted and not requested:
            for m in new.metrics or []:
                assert m.verdict in ("Pass", "Warning") or m.name == "slow", (m, reasons)
                if m.name == "errors":
                    assert m.critical_since is None, m
        published = flag.percentage
        served = flag
        status = new
        if not enabled and spec.enabled:
            continue
