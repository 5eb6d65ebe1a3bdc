"""I10: a phase's soak counts only while the ConfigMap serves its percentage.

Hole found by review: the status was written before the ConfigMap, and in a crash loop a
rollout walked to Completed while its ConfigMap did not exist."""

from __future__ import annotations

from ramp.api import RolloutStatus
from ramp.engine import Observations, PublishFlag, decide
from tests.support.engine import T0, make_spec, minutes


def test_soak_starts_when_the_percentage_is_served_not_when_it_is_decided() -> None:
    spec = make_spec()
    status = decide(spec, RolloutStatus(), T0, Observations()).status
    assert (status.phase, status.percentage) == ("Progressing", 5)
    # The ConfigMap is not written for an hour (a crash loop, RBAC, an outage).
    for i in range(1, 7):
        status = decide(spec, status, T0 + minutes(10 * i), Observations()).status
        assert (status.current_phase, status.percentage) == ("canary", 5), "never promoted"
        assert status.awaiting_publish_since is not None
    served = Observations(published=PublishFlag(True, 5))
    status = decide(spec, status, T0 + minutes(60), served).status
    assert status.awaiting_publish_since is None
    assert status.next_promotion_at == T0 + minutes(70), "the whole soak counts from now"
    status = decide(spec, status, T0 + minutes(69), served).status
    assert status.current_phase == "canary"
    status = decide(spec, status, T0 + minutes(70), served).status
    assert status.current_phase == "half"


def test_a_configmap_gone_mid_soak_stops_the_clock() -> None:
    spec = make_spec()
    served = Observations(published=PublishFlag(True, 5))
    status = decide(spec, RolloutStatus(), T0, Observations()).status
    status = decide(spec, status, T0, served).status
    status = decide(spec, status, T0 + minutes(5), Observations()).status  # deleted by hand
    assert status.awaiting_publish_since == T0 + minutes(5)
    status = decide(spec, status, T0 + minutes(25), served).status  # put back 20 min later
    assert status.next_promotion_at == T0 + minutes(30)
    status = decide(spec, status, T0 + minutes(29), served).status
    assert status.current_phase == "canary"


def test_a_different_percentage_in_the_configmap_is_not_served() -> None:
    spec = make_spec()
    status = decide(spec, RolloutStatus(), T0, Observations()).status
    wrong = Observations(published=PublishFlag(True, 50))
    status = decide(spec, status, T0 + minutes(30), wrong).status
    assert status.current_phase == "canary"
    assert any(c.type == "Published" and c.status == "False" for c in status.conditions or []), (
        status.conditions
    )
