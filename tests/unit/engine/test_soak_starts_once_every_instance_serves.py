"""I10b: with spec.analysis.served, a phase soaks only while every reporting instance serves
the published percentage; not served within `within` holds and warns; after a decrease,
instances serving more than allowed are reported as loudly as a breach, without holding it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine import Observations, PublishFlag, decide
from ramp.engine.observations import MetricSample
from ramp.engine.schedule import next_wakeup, served_due
from ramp.engine.served import ServedReading
from tests.support.engine import T0, analysis, errors_metric, make_spec, minutes

SERIES = 'ramp_flag_served_percentage{feature_flag_key="feature"}'


def served_spec(**served: Any) -> RolloutSpec:
    return make_spec(analysis=analysis(errors_metric(), served={"within": "2m", **served}))


def seen(published: float, *shares: float, enabled: bool = True) -> Observations:
    return Observations(
        metrics={"errors": MetricSample(0.0)},
        published=PublishFlag(enabled, published),
        served=ServedReading(SERIES, {f"10.0.0.{i}:8000": s for i, s in enumerate(shares)}),
    )


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def started(spec: RolloutSpec) -> RolloutStatus:
    status = decide(spec, RolloutStatus(), T0, seen(0, 0, 0, 0)).status
    assert (status.phase, status.percentage) == ("Progressing", 5)
    return status


def condition(status: RolloutStatus, type_: str) -> tuple[str, str]:
    found = next(c for c in status.conditions or [] if c.type == type_)
    return found.status, found.reason


def warnings(status: RolloutStatus) -> list[str]:
    return [a.message for a in status.outbox or [] if a.type == "Warning"]


def test_the_soak_starts_when_the_last_instance_serves_the_percentage() -> None:
    spec = served_spec()
    status = started(spec)
    status = decide(spec, status, T0 + seconds(30), seen(5, 5, 0, 0)).status
    assert status.message == (
        "canary at 5 %: 2 of 3 instances still serve 0 %; the soak counts from when every "
        "instance serves it"
    )
    assert condition(status, "Served") == ("False", "Propagating")
    status = decide(spec, status, T0 + seconds(50), seen(5, 5, 5, 5)).status
    assert status.phase_started_at == T0 + seconds(50), "the soak counts from served everywhere"
    assert status.next_promotion_at == T0 + seconds(50) + minutes(10)
    assert condition(status, "Served") == ("True", "AllInstancesServe")
    entry = (status.history or [])[-1]
    assert (entry.reason, entry.percentage, entry.propagation_seconds) == ("Served", 5, 50)
    status = decide(spec, status, T0 + minutes(10) + seconds(49), seen(5, 5, 5, 5)).status
    assert status.current_phase == "canary"
    status = decide(spec, status, T0 + minutes(10) + seconds(50), seen(5, 5, 5, 5)).status
    assert (status.current_phase, status.percentage) == ("half", 50)


def test_an_instance_falling_behind_stops_the_soak_clock() -> None:
    spec = served_spec()
    status = started(spec)
    status = decide(spec, status, T0, seen(5, 5, 5)).status
    assert status.awaiting_publish_since is None
    status = decide(spec, status, T0 + minutes(2), seen(5, 5, 0)).status  # a pod restarted old
    status = decide(spec, status, T0 + minutes(5), seen(5, 5, 5)).status
    assert status.next_promotion_at == T0 + minutes(13)


def test_an_instance_that_never_reloads_holds_the_phase_and_warns_once() -> None:
    spec = served_spec()
    status = started(spec)
    status = decide(spec, status, T0 + seconds(30), seen(5, 5, 5, 0)).status
    assert warnings(status) == []
    for t in range(2, 60, 3):
        status = decide(spec, status, T0 + minutes(t), seen(5, 5, 5, 0)).status
        assert (status.phase, status.current_phase) == ("Progressing", "canary"), "held"
        assert status.message is not None and "1 of 3 instances still serve 0 %" in status.message
    [warning] = warnings(status)
    assert "not served within 2m: 1 of 3 instances still serve 0 %" in warning
    assert "spec.flag.restartOnChange" in warning
    assert [a.reason for a in status.outbox or [] if a.type == "Warning"] == ["Warning"]
    assert condition(status, "Served") == ("False", "NotServedInTime")


def test_no_instance_reporting_holds_and_names_the_series() -> None:
    spec = served_spec(matchers={"namespace": "shop", "pod": "~checkout-.*"})
    assert spec.analysis is not None and spec.analysis.served is not None
    assert spec.analysis.served.selector("feature") == (
        'ramp_flag_served_percentage{feature_flag_key="feature", namespace="shop", '
        'pod=~"checkout-.*"}'
    )
    status = started(spec)
    status = decide(spec, status, T0 + minutes(30), seen(5)).status
    assert status.current_phase == "canary"
    assert status.message == (
        f"canary at 5 %: no instance reports {SERIES}; check spec.analysis.served.matchers and "
        "that the apps export it (docs/flags.md); the soak counts from when every instance "
        "serves it"
    )
    assert condition(status, "Served") == ("False", "NotServedInTime")


def test_a_failed_read_holds_the_soak() -> None:
    spec = served_spec()
    status = started(spec)
    failed = Observations(
        metrics={"errors": MetricSample(0.0)},
        published=PublishFlag(True, 5),
        served=ServedReading(SERIES, error="Prometheus at http://prometheus:9090 timed out"),
    )
    status = decide(spec, status, T0 + minutes(20), failed).status
    assert status.current_phase == "canary"
    assert status.message is not None and "timed out" in status.message


def test_after_a_disable_instances_serving_more_are_reported_like_a_breach() -> None:
    spec = served_spec()
    status = started(spec)
    status = decide(spec, status, T0, seen(5, 5, 5)).status
    off = served_spec().model_copy(update={"enabled": False})
    at = T0 + minutes(1)
    status = decide(off, status, at, seen(5, 5, 5)).status
    assert (status.phase, status.enabled) == ("Disabled", False), "not held back"
    assert served_due(off, status, at + seconds(1)), "still checked while disabled"
    wake = next_wakeup(off, status, at)
    assert wake is not None and wake <= at + seconds(30)
    status = decide(off, status, at + seconds(30), seen(0, 0, 5, enabled=False)).status
    assert warnings(status) == [], "within the grace"
    assert condition(status, "Served") == ("False", "Propagating")
    status = decide(off, status, at + minutes(2), seen(0, 0, 5, enabled=False)).status
    [warning] = warnings(status)
    assert warning.startswith(
        "1 of 2 instances still serve 5 %, more than the 0 % now published 2m after the "
        "decrease to 0 %"
    )
    assert condition(status, "Served") == ("False", "ServedAboveRules")
    assert status.phase == "Disabled"
    status = decide(off, status, at + minutes(3), seen(0, 0, 0, enabled=False)).status
    assert condition(status, "Served") == ("True", "AllInstancesServe")
    assert not served_due(off, status, at + minutes(4)), "nothing left to check"


def test_without_served_nothing_is_read_or_held() -> None:
    spec = make_spec(analysis=analysis(errors_metric()))
    status = decide(spec, RolloutStatus(), T0, seen(0)).status
    status = decide(spec, status, T0, seen(5)).status
    assert status.instances is None and status.awaiting_publish_since is None
    assert not served_due(spec, status, T0 + minutes(1))
    assert all(c.type != "Served" for c in status.conditions or [])


def test_waiting_at_0_percent_and_a_completed_rollout_warn_about_nothing() -> None:
    spec = make_spec(
        [{"name": "all", "percentage": 100}],
        paused=True,
        analysis=analysis(errors_metric(), served={"within": "1m"}),
    )
    status = decide(spec, RolloutStatus(), T0, seen(0)).status
    status = decide(spec, status, T0 + minutes(10), seen(0)).status  # no app deployed yet
    assert status.percentage == 0 and warnings(status) == []
    going = spec.model_copy(update={"paused": False})
    status = decide(going, status, T0 + minutes(11), seen(0, 0)).status
    status = decide(going, status, T0 + minutes(11), seen(100, 100, 0)).status
    assert status.phase == "Progressing", "completes once every instance serves 100 %"
    status = decide(going, status, T0 + minutes(12), seen(100, 100, 100)).status
    status = decide(going, status, T0 + minutes(13), seen(100, 100, 100)).status
    assert status.phase == "Completed"
    status = decide(going, status, T0 + minutes(30), seen(100, 100, 0)).status  # a stale pod
    assert warnings(status) == [], "the rollout is over; nothing more is read"
    assert not served_due(going, status, T0 + minutes(31))
