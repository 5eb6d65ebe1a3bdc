"""I11: who has the feature changes only with the percentage, whatever operator version runs.

Hole found by review: Rollouts written before `spec.flag.bucketing` existed were published with
the CBOR scheme (flags.json without metadata); after an upgrade the new default applied to them,
so a rollout at 25 % suddenly exposed another 25 % of users. The engine now remembers the scheme
in `status.bucketing` and, for a rollout left in flight without it, keeps what its ConfigMap
serves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ramp.api import RolloutStatus
from ramp.engine import Observations, PublishFlag, decide, lowers
from ramp.flags import FLAGD_GO_CORE, FLAGD_SUITE_V2, PYTHON_PROVIDER_CBOR, SCHEMES
from ramp.k8s.configmap import read_published
from ramp.k8s.flagd import render_flags_json
from tests.support.engine import T0, Run, make_spec, minutes
from tests.support.invariants import Moment, check_bucketing_kept_while_exposed

PHASES = [
    {"name": "canary", "percentage": 5, "duration": "10m"},
    {"name": "quarter", "percentage": 25, "duration": "10m"},
    {"name": "half", "percentage": 50, "duration": "10m"},
    {"name": "all", "percentage": 100},
]


def left_by_an_older_operator(**status: Any) -> RolloutStatus:
    """A status as an operator from before schemes stored it: at 25 %, no status.bucketing."""
    fields: dict[str, Any] = {
        "phase": "Progressing",
        "currentPhase": "quarter",
        "currentPhaseIndex": 1,
        "percentage": 25,
        "enabled": True,
        "phaseStartedAt": T0.isoformat(),
        "observedGeneration": 1,
        **status,
    }
    return RolloutStatus.model_validate(fields)


def upgraded_run(spec_scheme: str | None = None, **status: Any) -> Run:
    flag = {"key": "feature", "configMap": "feature-flag"}
    if spec_scheme is not None:
        flag["bucketing"] = spec_scheme
    run = Run(make_spec(PHASES, flag=flag))
    run.status = left_by_an_older_operator(**status)
    run.config_map = PublishFlag(True, 25, PYTHON_PROVIDER_CBOR)  # what flags.json says
    return run


def published_condition(status: RolloutStatus) -> tuple[str, str]:
    condition = next(c for c in status.conditions or [] if c.type == "Published")
    return condition.status, condition.message


def test_a_rollout_left_at_25_percent_keeps_the_scheme_its_configmap_serves() -> None:
    run = upgraded_run()
    decision = run.step(minutes(1))
    assert run.published == PublishFlag(True, 25, PYTHON_PROVIDER_CBOR), "not the new default"
    assert decision.status.bucketing == PYTHON_PROVIDER_CBOR
    assert decision.status.awaiting_publish_since is None, "the soak goes on: it is served"
    served, message = published_condition(decision.status)
    assert served == "True"
    assert "bucketing PythonProviderCBOR" in message
    assert "spec.flag.bucketing FlagdGoCore applies once" in message, message


def test_promotions_after_the_upgrade_keep_the_scheme_until_completion_at_100() -> None:
    run = upgraded_run()
    seen: list[PublishFlag] = []
    for _ in range(40):
        run.step(minutes(1))
        seen.append(run.published)
        if run.phase == "Completed":
            break
    assert run.phase == "Completed"
    below_100 = {(p.percentage, p.bucketing) for p in seen if p.percentage < 100}
    assert below_100 == {(25, PYTHON_PROVIDER_CBOR), (50, PYTHON_PROVIDER_CBOR)}
    # At 100 % every scheme serves everyone: the spec's scheme takes over, nobody is reshuffled.
    assert run.published == PublishFlag(True, 100, FLAGD_GO_CORE)
    assert run.status.bucketing is None


def test_an_explicit_spec_scheme_does_not_override_what_users_were_given() -> None:
    run = upgraded_run(spec_scheme=FLAGD_SUITE_V2)
    run.step(minutes(1))
    assert run.published.bucketing == PYTHON_PROVIDER_CBOR


def test_a_configmap_that_cannot_be_read_after_the_upgrade_means_the_legacy_scheme() -> None:
    run = upgraded_run()
    run.config_map = None  # deleted by hand while the operator was down
    run.step(minutes(1))
    assert run.published == PublishFlag(True, 25, PYTHON_PROVIDER_CBOR)


def test_a_configmap_already_rewritten_with_the_default_keeps_that_scheme() -> None:
    """An operator that knew schemes but did not remember them may have republished with the
    default already: the users exposed now are the default's, so they stay."""
    run = upgraded_run()
    run.config_map = PublishFlag(True, 25, FLAGD_GO_CORE)
    run.step(minutes(1))
    assert run.status.bucketing == FLAGD_GO_CORE


def test_a_new_rollout_remembers_the_spec_scheme_from_its_first_publish() -> None:
    spec = make_spec(PHASES, flag={"key": "f", "configMap": "f", "bucketing": FLAGD_SUITE_V2})
    run = Run(spec)
    decision = run.step()
    assert decision.status.bucketing == FLAGD_SUITE_V2
    assert run.published == PublishFlag(True, 5, FLAGD_SUITE_V2)


def test_a_rollback_to_zero_forgets_the_scheme_and_a_retry_takes_the_specs() -> None:
    run = upgraded_run()
    run.step(minutes(1))
    run.with_control(abort={"requestedAt": run.now.isoformat()})
    run.step(minutes(1))
    assert (run.phase, run.status.percentage, run.status.bucketing) == ("RolledBack", 0, None)
    run.with_control(retry={"requestedAt": run.now.isoformat()})
    run.step(minutes(1))
    assert run.published == PublishFlag(True, 5, FLAGD_GO_CORE), "nobody was exposed: a new start"


def test_disabled_mid_rollout_comes_back_to_the_same_users() -> None:
    run = upgraded_run()
    run.step(minutes(1))
    run.spec = run.spec.model_copy(update={"enabled": False})
    run.step(minutes(1))
    assert run.phase == "Disabled" and not run.published.enabled
    run.spec = run.spec.model_copy(update={"enabled": True})
    run.step(minutes(1))
    assert run.published == PublishFlag(True, 25, PYTHON_PROVIDER_CBOR)


def test_a_rollout_completed_below_100_percent_keeps_its_scheme() -> None:
    """Completed at 25 % still exposes some users and not others; admission lets the spec's
    scheme change then, so the engine is what keeps the users."""
    phases = [{"name": "only", "percentage": 25}]
    run = upgraded_run(phase="Completed", currentPhase="only", currentPhaseIndex=0)
    run.spec = make_spec(phases)
    run.step(minutes(1))
    assert run.published == PublishFlag(True, 25, PYTHON_PROVIDER_CBOR)
    run.spec = make_spec(phases, flag={"key": "f", "configMap": "f", "bucketing": FLAGD_SUITE_V2})
    run.step(minutes(1))
    assert run.published.bucketing == PYTHON_PROVIDER_CBOR


def test_lowering_under_another_scheme_is_not_fewer_users() -> None:
    """The shell serves a decrease before recording it; under another scheme a lower percentage
    is other users, so it waits like any other change."""
    served = PublishFlag(True, 50, PYTHON_PROVIDER_CBOR)
    assert lowers(served, PublishFlag(True, 25, PYTHON_PROVIDER_CBOR))
    assert not lowers(served, PublishFlag(True, 25, FLAGD_GO_CORE))
    assert lowers(served, PublishFlag(True, 0, FLAGD_GO_CORE))
    assert lowers(served, PublishFlag(False, 25, FLAGD_GO_CORE))


def test_the_configmap_reads_back_the_scheme_it_serves() -> None:
    spec = make_spec(PHASES)
    legacy = render_flags_json("feature", True, 25, PYTHON_PROVIDER_CBOR, name_scheme=False)
    assert '"metadata"' not in legacy
    assert read_published(spec, {"flags.json": legacy}) == PublishFlag(
        True, 25, PYTHON_PROVIDER_CBOR
    )
    for scheme in SCHEMES:
        named = render_flags_json("feature", True, 25, scheme)
        assert read_published(spec, {"flags.json": named}) == PublishFlag(True, 25, scheme)
    unknown = named.replace(scheme, "Crc32")
    assert read_published(spec, {"flags.json": unknown}) is None


OLD_STATUSES = st.sampled_from(
    [
        {},
        {"phase": "Paused", "pausedAt": T0.isoformat()},
        {"phase": "AwaitingApproval"},
        {"phase": "RolledBack", "rolledBackFrom": "half"},
        {"phase": "Completed", "currentPhase": "all", "currentPhaseIndex": 3, "percentage": 100},
        {"phase": "RolledBack", "percentage": 0},
        {"phase": "Pending", "percentage": 0, "phaseStartedAt": None},
    ]
)


@given(
    old=OLD_STATUSES,
    served=st.sampled_from((None, *SCHEMES)),
    spec_scheme=st.sampled_from((None, *SCHEMES)),
    enabled=st.booleans(),
    paused=st.booleans(),
    after=st.sampled_from((0, 30, 600, 3600)),
)
def test_the_first_decision_after_an_upgrade_keeps_the_users_exposed(
    old: dict[str, Any],
    served: str | None,
    spec_scheme: str | None,
    enabled: bool,
    paused: bool,
    after: int,
) -> None:
    """Whatever state an older operator left, whatever the spec now says (enabled, paused,
    a scheme), the next publish keeps I11 against what the ConfigMap served."""
    flag = {"key": "feature", "configMap": "feature-flag"}
    if spec_scheme is not None:
        flag["bucketing"] = spec_scheme
    spec = make_spec(PHASES, flag=flag, enabled=enabled, paused=paused)
    status = left_by_an_older_operator(**old)
    published = None if served is None else PublishFlag(True, status.percentage or 0.0, served)
    now = T0 + timedelta(seconds=after)
    decision = decide(spec, status, now, Observations(published=published), generation=1)
    wanted = next(e for e in decision.effects if isinstance(e, PublishFlag))
    trace = [Moment(T0, spec, status, published), Moment(now, spec, decision.status, wanted)]
    if published is None:
        # No ConfigMap to read: apps last read a file an older operator wrote, the legacy one.
        legacy = PublishFlag(True, status.percentage or 0.0, PYTHON_PROVIDER_CBOR)
        trace.insert(0, Moment(T0, spec, status, legacy))
    check_bucketing_kept_while_exposed(trace)
