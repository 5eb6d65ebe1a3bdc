"""+Inf (say `1 / 0` when every request failed) breaches `above` like any other value, and the
status that records it is valid JSON: the rollback is recorded and stays. NaN is no data."""

from __future__ import annotations

import json

from ramp.api import RolloutStatus
from ramp.engine.observations import MetricSample
from tests.support.engine import Run, analysis, errors_metric, make_spec, seconds


def stored(status: RolloutStatus) -> RolloutStatus:
    """What the API server keeps: strict JSON (no Infinity, no NaN), read back."""
    document = status.model_dump(by_alias=True, exclude_none=True, mode="json")
    return RolloutStatus.model_validate_json(json.dumps(document, allow_nan=False))


def test_plus_infinity_breaches_and_the_rollback_is_stored() -> None:
    run = Run(make_spec(analysis=analysis(errors_metric())))
    run.step(seconds(0), {"errors": 0.0})
    assert run.status.current_phase == "canary"
    run.step(seconds(30), {"errors": float("inf")})
    assert run.phase == "RolledBack"
    assert run.published.percentage == 0
    restored = stored(run.status)  # raised ValueError (Infinity) before the fix
    assert restored.phase == "RolledBack"
    errors = next(m for m in restored.metrics or [] if m.name == "errors")
    assert errors.verdict == "Critical" and (errors.message or "").startswith("+Inf is above")
    assert errors.value is not None and errors.value > 1e300
    assert "RolledBack" in run.reasons()
    run.status = restored
    run.step(seconds(30), {"errors": 0.0})  # a finite value later: nothing is published again
    assert run.phase == "RolledBack" and run.published.percentage == 0


def test_minus_infinity_breaches_below() -> None:
    metric = {"name": "success", "query": "q", "critical": {"below": 0.95}}
    run = Run(make_spec(analysis=analysis(metric)))
    run.step(seconds(0), {"success": 1.0})
    run.step(seconds(30), {"success": float("-inf")})
    assert run.phase == "RolledBack"
    stored(run.status)


def test_nan_is_no_data() -> None:
    assert MetricSample(value=float("nan")).value is None
