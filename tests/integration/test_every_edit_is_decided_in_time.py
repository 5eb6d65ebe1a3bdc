"""I12: every new generation of a Rollout is decided within one analysis interval plus the query
timeout plus 2 s, whatever else is in flight: `status.observedGeneration` reaches
`metadata.generation` and the ConfigMap serves what that decision says; so is every `ramp`
request written to `status.control` (here `ramp pause` and `ramp resume`).

The real `Reconciler` and `Loops` run in this process against the testbed's API server
(tests/support/shell.py), analysing against a Prometheus stand-in the test can slow down. The
state machine interleaves what the engine's own model cannot see: edits that land while a
decision waits on its query, watch events that arrive late and out of order, failed writes, and
restarts. The scenario test below is the first hole it found: an edit that arrived during a
whole decision was filed as decided, and the kill switch waited for the status refresh.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from prometheus_client import REGISTRY

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine.actions import ActionNotApplicable
from ramp.engine.bucketing import publish_of
from ramp.engine.published import serves
from ramp.k8s.steering import steer
from ramp.runtime import reconcile
from ramp.runtime.settings import OperatorSettings
from tests.support.cluster import Cluster, create_namespace
from tests.support.eventually import eventually
from tests.support.listener import Listener
from tests.support.rollouts import GROUP, PLURAL, VERSION, apply, get, rollout_manifest
from tests.support.shell import Shell, failing_once
from tests.support.trace import published_values

INTERVAL = 1.0
QUERY_TIMEOUT = 2.0
DECIDED_WITHIN = INTERVAL + QUERY_TIMEOUT + 2.0
"""I12's bound."""

SETTINGS = OperatorSettings(query_reuse=0.0, status_refresh=300.0, retry_backoff=1.0)
"""A status refresh far beyond the test: an edit left undecided would stay so."""

GATED = [
    {"name": "canary", "percentage": 10, "approval": "Manual"},
    {"name": "everyone", "percentage": 100},
]


def manifest(name: str, address: str, critical: float = 0.05) -> dict[str, Any]:
    return rollout_manifest(
        name,
        GATED,
        analysis={
            "interval": f"{INTERVAL:g}s",
            "prometheus": {"address": address, "timeout": f"{QUERY_TIMEOUT:g}s"},
            "metrics": [{"name": "errors", "query": "errors", "critical": {"above": critical}}],
        },
    )


def decided(cluster: Cluster, namespace: str, name: str) -> tuple[int, str] | None:
    """(generation, what is served) once the current generation is decided and the ConfigMap
    serves what the decision says; None before."""
    rollout = get(cluster, namespace, name)
    status = RolloutStatus.model_validate(rollout.get("status") or {})
    generation = rollout["metadata"]["generation"]
    if status.observed_generation != generation:
        return None
    control = status.control
    if control is not None and (
        control.resume is not None
        or (control.pause is not None and status.phase not in ("Paused", "Disabled"))
    ):
        return None  # a `ramp pause` or `resume` not taken yet
    spec = RolloutSpec.model_validate(rollout["spec"])
    try:
        config_map = cluster.core.read_namespaced_config_map(spec.flag.config_map, namespace)
    except Exception:
        return None
    body = cluster.api.sanitize_for_serialization(config_map)
    served = published_values(body, spec)
    if served is None or not serves(served, publish_of(spec, status)):
        return None
    return generation, f"{status.phase} enabled={served.enabled} {served.percentage} %"


def check_decided_in_time(cluster: Cluster, namespace: str, name: str) -> None:
    """I12 for the Rollout's latest generation."""
    generation = get(cluster, namespace, name)["metadata"]["generation"]
    eventually(
        lambda: decided(cluster, namespace, name),
        timeout=DECIDED_WITHIN,
        what=(
            f"I12: generation {generation} of {name} decided and served within {DECIDED_WITHIN:g} s"
        ),
    )


def routine_analyses() -> float:
    return REGISTRY.get_sample_value("ramp_analyses_routine_total") or 0.0


def edit(cluster: Cluster, namespace: str, name: str, change: str) -> None:
    """One edit as people and GitOps tools make them."""
    rollout = get(cluster, namespace, name)
    spec = rollout["spec"]
    patch: dict[str, Any]
    if change == "ramp pause or resume":  # a person's request, in status.control
        paused = (rollout.get("status") or {}).get("control", {}).get("pause")
        # Not applicable (say, resume while disabled): nothing is written, nothing to decide.
        with suppress(ActionNotApplicable):
            steer(cluster, rollout, "resume" if paused else "pause")
        return
    if change == "annotation":  # a GitOps tool's bookkeeping: no new generation
        patch = {"metadata": {"annotations": {"example.com/synced-at": str(time.time())}}}
    elif change == "kill switch":
        patch = {"spec": {"enabled": not spec.get("enabled", True)}}
    elif change == "pause":
        patch = {"spec": {"paused": not spec.get("paused", False)}}
    else:  # a threshold tightened or loosened, still above the healthy value
        metric = spec["analysis"]["metrics"][0]
        above = 0.02 if metric["critical"]["above"] == 0.05 else 0.05
        patch = {
            "spec": {
                "analysis": {
                    **spec["analysis"],
                    "metrics": [{**metric, "critical": {"above": above}}],
                }
            }
        }
    cluster.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, patch)


def edit_during_a_slow_query(
    cluster: Cluster,
    shell: Shell,
    listener: Listener,
    namespace: str,
    name: str,
    first: str,
    second: str,
    held: float,
) -> None:
    """``first`` starts a whole decision whose query is held; ``second`` lands (and its watch
    event arrives) while it waits; the answer comes ``held`` seconds later."""
    listener.hold()
    try:
        edit(cluster, namespace, name, first)
        if get(cluster, namespace, name)["spec"].get("enabled", True):  # else nothing queries
            eventually(
                lambda: listener.in_flight() > 0,
                timeout=10,
                what="a decision waiting on its query",
            )
        edit(cluster, namespace, name, second)
        version = get(cluster, namespace, name)["metadata"]["resourceVersion"]
        eventually(
            lambda: shell.reconciler.index.version((namespace, name)) == version,
            timeout=10,
            what="the second edit's watch event delivered while the query waits",
        )
        time.sleep(held)  # the slow query itself: how long Prometheus takes to answer
    finally:
        listener.release()


@pytest.fixture
def listener() -> Iterator[Listener]:
    served = Listener()
    served.answer_prometheus_value(0.001)
    yield served
    served.close()


@pytest.fixture
def shell(cluster: Cluster, namespace: str) -> Iterator[Shell]:
    running = Shell(cluster.kubeconfig, namespace, SETTINGS)
    running.start()
    yield running
    running.stop()


def settle(cluster: Cluster, namespace: str, name: str) -> None:
    def at_gate_with_routine() -> bool:
        status = get(cluster, namespace, name).get("status") or {}
        return status.get("phase") == "AwaitingApproval" and not status.get("outbox")

    eventually(at_gate_with_routine, timeout=30, what=f"{name} awaiting approval, settled")
    count = routine_analyses()
    eventually(
        lambda: routine_analyses() >= count + 2,
        timeout=10,
        what="analyses gone routine (no whole decision)",
    )


def test_the_kill_switch_during_a_slow_query_is_decided_at_once(
    cluster: Cluster, rollout_crd: str, namespace: str, listener: Listener, shell: Shell
) -> None:
    apply(cluster, namespace, manifest("killed", listener.url))
    settle(cluster, namespace, "killed")
    edit_during_a_slow_query(
        cluster, shell, listener, namespace, "killed", "annotation", "kill switch", held=0.5
    )
    check_decided_in_time(cluster, namespace, "killed")
    assert decided(cluster, namespace, "killed")[1].startswith("Disabled enabled=False")  # type: ignore[index]


EDITS = st.sampled_from(("annotation", "kill switch", "pause", "threshold", "ramp pause or resume"))


class ShellModel(RuleBasedStateMachine):
    """One Rollout under the real shell; after every step, I12 must hold."""

    cluster: Cluster

    def __init__(self) -> None:
        super().__init__()
        self.namespace = create_namespace(self.cluster)
        self.listener = Listener()
        self.listener.answer_prometheus_value(0.001)
        self.shell = Shell(self.cluster.kubeconfig, self.namespace, SETTINGS)
        self.shell.start()
        self.name = "modelled"
        apply(self.cluster, self.namespace, manifest(self.name, self.listener.url))
        settle(self.cluster, self.namespace, self.name)

    @rule(change=EDITS)
    def person_edits(self, change: str) -> None:
        edit(self.cluster, self.namespace, self.name, change)

    @rule(first=EDITS, second=EDITS, held=st.sampled_from((0.1, 1.0, QUERY_TIMEOUT - 0.5)))
    def edit_lands_during_a_slow_query(self, first: str, second: str, held: float) -> None:
        edit_during_a_slow_query(
            self.cluster,
            self.shell,
            self.listener,
            self.namespace,
            self.name,
            first,
            second,
            held,
        )

    @rule(late=st.sampled_from((0.0, 0.3, 1.0)), shuffle=st.booleans())
    def watch_events_come_late(self, late: float, shuffle: bool) -> None:
        self.shell.late, self.shell.shuffle = late, shuffle

    @rule(
        write=st.sampled_from(("write_status", "publish_flag")),
        status=st.sampled_from((409, 500, 504)),
        change=EDITS,
    )
    def a_write_fails_then_an_edit(self, write: str, status: int, change: str) -> None:
        original = getattr(reconcile, write)
        setattr(reconcile, write, failing_once(original, status, "injected"))
        try:
            edit(self.cluster, self.namespace, self.name, change)
            # A failed write delays the decision by its retry (PUBLISH_RETRY, the backoff).
            eventually(
                lambda: decided(self.cluster, self.namespace, self.name),
                timeout=DECIDED_WITHIN + reconcile.PUBLISH_RETRY.total_seconds(),
                what=f"I12 after a failed {write}: decided once the write is tried again",
            )
        finally:
            setattr(reconcile, write, original)

    @rule()
    def operator_restarts(self) -> None:
        self.shell.restart()

    @invariant()
    def every_edit_decided_in_time(self) -> None:
        check_decided_in_time(self.cluster, self.namespace, self.name)

    def teardown(self) -> None:
        self.shell.stop()
        self.listener.close()
        self.cluster.custom.delete_collection_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL
        )
        self.cluster.core.delete_namespace(self.namespace, propagation_policy="Background")


def test_the_shell_decides_every_edit_in_time(cluster: Cluster, rollout_crd: str) -> None:
    ShellModel.cluster = cluster
    run_state_machine_as_test(
        ShellModel,
        settings=settings(
            max_examples=5,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=bool(os.environ.get("CI")),
            database=None,
        ),
    )
