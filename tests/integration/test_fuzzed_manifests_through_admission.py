"""Hostile manifests through the real apiserver, with the real operator running.

Hypothesis generates valid Rollouts and mutations of them (percentages over 100 or decreasing,
duplicate names, unparsable or huge durations, unknown enums, huge strings, names that are not
DNS names, unicode, nested junk, missing fields, wrong types, unknown fields, ...). Each one is
created with strict field validation, as `kubectl apply` does. Then:

- every refusal names the field: the apiserver's message holds `spec.` and the path mutated;
- every admitted Rollout is one the operator's own model accepts, and reaches a status with a
  phase and a message that `RolloutStatus` reads back;
- the same faults sent as edits of a running control Rollout (a GitOps sync of a bad commit)
  are refused alike and leave it as it was;
- the operator never crashes or logs a traceback, and keeps reconciling the control Rollout,
  created before the fuzzing started in the same namespace.

The run is bounded and reproducible: a fixed seed (RAMP_FUZZ_SEED overrides it) and a few
examples per kind of fault.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from kubernetes import client

from ramp.api import RolloutSpec, RolloutStatus
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.manifests import MUTATORS, Case, Mutator, cases
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    GROUP,
    PLURAL,
    VERSION,
    apply,
    get,
    published_percentage,
    ramp,
    rollout_manifest,
    status,
)

SEED = int(os.environ.get("RAMP_FUZZ_SEED", "20260309"))
EXAMPLES_PER_FAULT = 3
VALID_EXAMPLES = 16

CONTROL = "control"
CONTROL_PHASES = [
    {"name": "start", "percentage": 10, "duration": "1s"},
    {"name": "gate", "percentage": 20, "approval": "Manual"},
    {"name": "all", "percentage": 100},
]


@dataclass
class Admission:
    """Sends cases to the apiserver and keeps what it admitted."""

    cluster: Cluster
    namespace: str
    sent: int = 0
    refused: int = 0
    edits_refused: int = 0
    admitted: dict[str, Case] = field(default_factory=dict)

    def send(self, case: Case) -> None:
        self.sent += 1
        if case.mutation is not None and case.mutation.must_reject and self.sent % 2 == 0:
            self.edit_control(case)
            return
        manifest = case.manifest(f"fz-{self.sent}")
        name = manifest["metadata"]["name"]
        try:
            self.cluster.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, manifest, field_validation="Strict"
            )
        except client.ApiException as e:
            self.refused += 1
            self.check_refusal(case, e)
            return
        self.admitted[name] = case
        self.check_admitted(name, case)

    def edit_control(self, case: Case) -> None:
        """The faulty spec as an edit of the running control Rollout (what a GitOps sync of a
        bad commit does): refused the same way, and the control is left as it was."""
        current = get(self.cluster, self.namespace, CONTROL)
        edited = {**current, "spec": case.manifest(CONTROL)["spec"]}
        try:
            self.cluster.custom.replace_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, CONTROL, edited, field_validation="Strict"
            )
        except client.ApiException as e:
            self.refused += 1
            self.edits_refused += 1
            self.check_refusal(case, e)
            return
        raise AssertionError(f"admission let through an edit with {case.refusal}:\n{case!r}")

    def check_refusal(self, case: Case, error: client.ApiException) -> None:
        body = str(error.body)
        message = str(json.loads(body).get("message", body))
        what = case.mutation.what if case.mutation else f"a name of {case.name_length} characters"
        assert case.refusal is not None or (case.mutation and not case.mutation.must_reject), (
            f"admission refused a valid Rollout: {message}\n{case!r}"
        )
        assert error.status in (400, 422), f"{what}: HTTP {error.status}: {message}"
        names = case.refusal or (case.mutation.names if case.mutation else "spec.")
        assert names in message, f"{what}: the refusal does not name {names}: {message}"

    def check_admitted(self, name: str, case: Case) -> None:
        assert case.refusal is None, f"admission let through {case.refusal} ({name}):\n{case!r}"
        # What the apiserver stored (defaulted, pruned) is what the operator will read: its
        # model must accept it, or the Rollout would only fail later, in the operator.
        stored = get(self.cluster, self.namespace, name)
        try:
            RolloutSpec.model_validate(stored["spec"])
        except Exception as e:
            raise AssertionError(
                f"admitted {name} but the operator's model refuses it ({type(e).__name__}): "
                f"{e}\n{case!r}"
            ) from e


def send_examples(admission: Admission, prometheus: str, fault: Mutator | None) -> None:
    examples = VALID_EXAMPLES if fault is None else EXAMPLES_PER_FAULT

    @seed(SEED)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(case=cases(prometheus, fault))
    def send(case: Case) -> None:
        admission.send(case)

    send()


def clear_state(raw: dict[str, Any]) -> bool:
    """A phase, and words saying why: status.message or a condition's message."""
    if not raw.get("phase"):
        return False
    if raw.get("message"):
        return True
    return any(c.get("message") for c in raw.get("conditions") or [])


def log_problems(operator: OperatorProcess) -> list[str]:
    """Each logged traceback as its log record and its last exception (with the HTTP body the
    kubernetes client appends), cut short: enough to name the bug without the whole stack."""
    lines = operator.log.read_text(errors="replace").splitlines()
    problems = []
    for i, line in enumerate(lines):
        if not line.startswith("Traceback"):
            continue
        end = i + 1
        while end < len(lines) and (
            lines[end].startswith((" ", "Traceback", "During")) or not lines[end]
        ):
            end += 1
        record = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].startswith("[")), "")
        tail = [t[:400] for t in lines[end : end + 4] if not t.startswith("HTTP response head")]
        problems.append("\n".join([record[:300], *tail]))
    return problems


def control_phase(cluster: Cluster, namespace: str) -> str | None:
    phase: str | None = status(cluster, namespace, CONTROL).get("phase")
    return phase


def test_fuzzed_manifests_are_refused_by_field_or_reach_a_clear_state(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    print(f"fuzz seed {SEED} (set RAMP_FUZZ_SEED to try another)")
    apply(cluster, namespace, rollout_manifest(CONTROL, CONTROL_PHASES))
    eventually(
        lambda: control_phase(cluster, namespace) == "AwaitingApproval",
        timeout=30,
        what="the control Rollout to reach its manual gate before the fuzzing",
    )

    generation = get(cluster, namespace, CONTROL)["metadata"]["generation"]

    admission = Admission(cluster, namespace)
    for fault in [None, *MUTATORS]:
        send_examples(admission, cluster.prometheus_url, fault)
    print(
        f"sent {admission.sent} manifests: {admission.refused} refused naming the field "
        f"({admission.edits_refused} of them edits of the control Rollout), "
        f"{len(admission.admitted)} admitted"
    )
    assert admission.refused >= len(MUTATORS), "the faults should mostly be refused"
    assert len(admission.admitted) >= VALID_EXAMPLES // 2, "valid Rollouts should be admitted"

    def unclear() -> list[str]:
        found: dict[str, Any] = cluster.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL
        )
        states = {r["metadata"]["name"]: r.get("status") or {} for r in found["items"]}
        return [n for n in admission.admitted if not clear_state(states.get(n, {}))]

    eventually(
        lambda: not unclear(),
        timeout=60,
        what="every admitted Rollout to have status.phase and a message",
    )
    ended: Counter[str] = Counter()
    said: dict[str, str] = {}
    for name, case in admission.admitted.items():
        raw = status(cluster, namespace, name)
        RolloutStatus.model_validate(raw)
        assert raw["phase"] != "Failed", f"{name} failed: {raw.get('message')}\n{case!r}"
        ended[raw["phase"]] += 1
        said.setdefault(raw["phase"], raw.get("message", ""))
    print(f"admitted Rollouts by phase: {dict(ended)}")
    for phase, message in said.items():
        print(f"  e.g. {phase}: {message}")

    assert operator.healthy(), "the operator stopped answering /healthz"
    problems = log_problems(operator)
    assert not problems, "the operator logged tracebacks:\n" + "\n---\n".join(problems[:3])

    # No faulty edit reached the control Rollout, it stayed where it was, and obeys a person.
    assert get(cluster, namespace, CONTROL)["metadata"]["generation"] == generation
    assert control_phase(cluster, namespace) == "AwaitingApproval"
    assert published_percentage(cluster, namespace, f"{CONTROL}-flag") == "20"
    ramp(cluster, "promote", CONTROL, "-n", namespace)
    eventually(
        lambda: control_phase(cluster, namespace) == "Completed",
        timeout=30,
        what="the control Rollout to complete after `ramp promote`, fuzzing done",
    )
    eventually(
        lambda: published_percentage(cluster, namespace, f"{CONTROL}-flag") == "100",
        timeout=30,
        what="the control Rollout's ConfigMap to publish 100",
    )
