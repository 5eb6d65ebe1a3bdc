"""With Kopf peering, replicas of one Deployment get different priorities: peers of equal
priority all pause, which would leave no operator working."""

from __future__ import annotations

from ramp.main import peering_priority
from ramp.settings import OperatorSettings


def test_standalone_has_no_priority() -> None:
    assert peering_priority(OperatorSettings()) is None


def test_an_explicit_priority_is_kept() -> None:
    assert peering_priority(OperatorSettings(peering="ramp", priority=100)) == 100


def test_replicas_started_alike_get_distinct_priorities() -> None:
    settings = OperatorSettings(peering="ramp")
    priorities = {peering_priority(settings) for _ in range(20)}
    assert len(priorities) == 20
