"""flags.json carries the audiences a status serves as flagd targeting; what a ConfigMap serves
is read back exactly (names, definitions, percentage), so an edit of an audience's values is a
change to publish; env keys carry the percentage only, and the Rollout says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine import Observations, PublishFlag, decide
from ramp.flags import FlagFile
from ramp.k8s.configmap import FLAGS_FILE, build_flag_data, read_published
from tests.support.engine import T0

AUDIENCES = [
    {"name": "internal", "attribute": "email", "endsWith": ["@example.com"]},
    {"name": "beta", "in": ["user-1017", "user-2203"]},
]


def spec(audiences: list[dict[str, Any]] = AUDIENCES, **flag: Any) -> RolloutSpec:
    return RolloutSpec.model_validate(
        {
            "flag": {"key": "pdf", "configMap": "pdf-flags", "audiences": audiences, **flag},
            "phases": [
                {"name": "internal", "audiences": ["internal"], "percentage": 0},
                {"name": "beta", "audiences": ["internal", "beta"], "percentage": 0},
                {"name": "ten", "audiences": ["internal", "beta"], "percentage": 10},
                {"name": "all", "percentage": 100},
            ],
        }
    )


def test_what_is_published_reads_back_as_published() -> None:
    for publish in (
        PublishFlag(True, 0, audiences=("internal",)),
        PublishFlag(True, 10, audiences=("internal", "beta")),
        PublishFlag(True, 10),
        PublishFlag(False, 0),
    ):
        assert read_published(spec(), build_flag_data(spec(), publish)) == publish


def test_apps_reading_flags_json_serve_members_only_at_the_internal_phase(tmp_path: Path) -> None:
    data = build_flag_data(spec(), PublishFlag(True, 0, audiences=("internal",)))
    path = tmp_path / FLAGS_FILE
    path.write_text(data[FLAGS_FILE])
    flags = FlagFile(path)
    assert flags.is_enabled("pdf", "u1", {"email": "ana@example.com"})
    assert not flags.is_enabled("pdf", "user-1017", {"email": "x@gmail.com"})
    assert not flags.is_enabled("pdf", "u1")


def test_an_edit_of_an_audiences_values_is_a_change_to_publish() -> None:
    served = build_flag_data(spec(), PublishFlag(True, 0, audiences=("internal", "beta")))
    edited = spec([AUDIENCES[0], {"name": "beta", "in": ["user-1017", "user-9"]}])
    assert read_published(edited, served) is None


def test_an_audience_an_edit_took_out_is_not_published() -> None:
    data = build_flag_data(spec(), PublishFlag(True, 0, audiences=("internal", "ghost")))
    flag = json.loads(data[FLAGS_FILE])["flags"]["pdf"]
    assert flag["metadata"]["audiences"] == "internal"


def test_env_keys_carry_the_percentage_and_the_rollout_says_audiences_are_missing() -> None:
    with_env = spec(env={"enabled": "PDF_ENABLED", "percentage": "PDF_PERCENTAGE"})
    data = build_flag_data(with_env, PublishFlag(True, 0, audiences=("internal",)))
    assert (data["PDF_ENABLED"], data["PDF_PERCENTAGE"]) == ("true", "0")
    decision = decide(with_env, RolloutStatus(), T0, Observations(metrics=None))
    condition = next(c for c in decision.status.conditions or [] if c.type == "EnvKeysComplete")
    assert (condition.status, condition.reason) == ("False", "AudiencesNotInEnv")
    assert "cannot express audiences (internal, beta)" in condition.message
    assert "AudiencesNotInEnv" in [a.reason for a in decision.announced]
    again = decide(with_env, decision.status, T0, Observations(metrics=None))
    assert "AudiencesNotInEnv" not in [a.reason for a in again.announced], "warned once"
    plain = decide(spec(), RolloutStatus(), T0, Observations(metrics=None))
    assert all(c.type != "EnvKeysComplete" for c in plain.status.conditions or [])
