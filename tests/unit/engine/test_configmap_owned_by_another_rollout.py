"""Two Rollouts wanting the same key of one ConfigMap (or a ConfigMap an older Ramp marked as
wholly another Rollout's): the one that does not own it is refused, says which Rollout does, and
writes nothing to it."""

from __future__ import annotations

from ramp.api import RolloutStatus
from ramp.engine import Observations, PublishFlag, decide
from tests.support.engine import T0, make_spec


def test_the_second_rollout_publishes_nothing_and_names_the_owner() -> None:
    seen = Observations(config_map_owner="checkout", published=PublishFlag(True, 50))
    decision = decide(make_spec(), RolloutStatus(), T0, seen)
    assert decision.effects == ()
    status = decision.status
    assert status.message is not None
    assert "spec.flag.configMap" in status.message and "checkout" in status.message
    published = next(c for c in status.conditions or [] if c.type == "Published")
    assert (published.status, published.reason) == ("False", "ConfigMapConflict")
    assert [a.reason for a in decision.announced] == ["ConfigMapConflict"]
    again = decide(make_spec(), status, T0, seen)
    assert again.status == status, "said once; nothing more to write"


def test_it_starts_once_the_name_is_free() -> None:
    status = decide(
        make_spec(), RolloutStatus(), T0, Observations(config_map_owner="checkout")
    ).status
    decision = decide(make_spec(), status, T0, Observations())
    assert (decision.status.phase, decision.status.percentage) == ("Progressing", 5)
    assert PublishFlag(True, 5) in decision.effects


def test_a_taken_key_is_named_with_its_field_and_owner() -> None:
    """Rollouts share a ConfigMap by flag and env key: the refusal says which key is taken."""
    seen = Observations(config_map_owner="checkout", config_map_clash="spec.flag.key: flag feature")
    status = decide(make_spec(), RolloutStatus(), T0, seen).status
    assert status.message is not None
    assert status.message.startswith("spec.flag.key: flag feature in ConfigMap feature-flag")
    assert "belongs to Rollout checkout" in status.message
