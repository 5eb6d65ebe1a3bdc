"""examples/reptate-policy.yaml: three Rollouts get the policy's thresholds, each rendered for
its own flag and service; the JAX Rollout's own p99 bound replaces the policy's."""

from __future__ import annotations

from pathlib import Path

import yaml

from ramp.api import RolloutSpec
from ramp.engine.effective import resolve

ROOT = Path(__file__).resolve().parents[3]


def test_the_reptate_rollouts_share_the_policys_thresholds() -> None:
    docs = list(yaml.safe_load_all((ROOT / "examples" / "reptate-policy.yaml").read_text()))
    policy = next(d for d in docs if d["kind"] == "RolloutPolicy")
    rollouts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Rollout"}
    assert set(rollouts) == {"safe-eval", "safe-serialization", "jax-optimization"}
    queries = {}
    for name, doc in rollouts.items():
        spec, seen = resolve(RolloutSpec.model_validate(doc["spec"]), "reptate", name, policy)
        assert seen is not None and seen.problem is None, seen
        assert spec.analysis is not None and spec.promotion_windows
        assert spec.failure_policy.rollback_to == "PreviousPhase"
        queries[name] = {m.name: m.query for m in spec.analysis.metrics}
    assert 'service="parser",flag="USE_SAFE_EVAL"' in queries["safe-eval"]["error-rate"]
    assert 'flag="USE_SAFE_SERIALIZATION"' in queries["safe-serialization"]["error-rate"]
    assert (
        'service="solver",flag="USE_JAX_OPTIMIZATION"' in queries["jax-optimization"]["error-rate"]
    )
    assert "{{" not in str(queries)
    assert queries["jax-optimization"]["p99-latency"] != queries["safe-eval"]["p99-latency"]
