"""The chaos run: two Rollouts on the real control plane while the operator is SIGKILLed again and
again, the apiserver restarts once and Prometheus once. Shared by the e2e test and bench/chaos.py.

One Rollout (``steady``) is healthy all along and must complete; the other (``breach``) sees its
error rate breach once it reaches its second phase and must roll back. Both scale a worker
Deployment and announce their transitions on a webhook the run serves on 127.0.0.1. Meanwhile a
person edits both specs at random (the kill switch, a pause, the critical threshold), and they
read Prometheus through a proxy that answers some queries late. A recorder keeps every version of
both Rollouts and ConfigMaps; at the end the trace is checked against the invariants of
docs/behaviour.md (I1-I12) and the deliveries against the history.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import statistics
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubernetes import client

from ramp.api import RolloutSpec
from ramp.engine.observations import MetricSample
from ramp.engine.phases import TERMINAL
from tests.support import invariants
from tests.support.analysis import analysed_rollout, error_rate
from tests.support.cluster import Cluster, load_testbed
from tests.support.eventually import eventually
from tests.support.exporter import Exporter, start_exporter, wait_scraped
from tests.support.operator_process import OperatorProcess, stopping
from tests.support.rollouts import GROUP, PLURAL, VERSION, apply, status
from tests.support.slowproxy import SlowProxy
from tests.support.trace import Recorder, Version, first_write_after, moments, storage_order
from tests.support.workloads import deployment, replicas

STEADY, BREACH = "steady", "breach"
"""The Rollout that must complete, and the one whose metric breaches mid-run."""

WORKER_REPLICAS = 1
"""Each worker's replicas before Ramp touches it: what I9 expects back at the end."""

SUBSCRIBED = ["Started", "Promoted", "Completed", "RolledBack"]
"""Transitions the webhook subscribes to (those every run makes whatever the timing)."""

DELIVERY_HEADER = "X-Ramp-Delivery"

LEASE = "ramp-operator"
"""The operator's leader Lease (`ramp run --lease-name`), in the first watched namespace."""


SCRAPE = timedelta(seconds=1)
"""The testbed's Prometheus scrape interval: how late a value set on an exporter is seen."""

THRESHOLDS = (0.05, 0.1, 0.2, 0.3)
"""Critical error-rate thresholds the edits switch between: all above steady's 0 and below
breach's 0.5, so each Rollout still ends as expected."""

QUERY_TIMEOUT = 2.0
"""`analysis.prometheus.timeout` of both Rollouts (seconds); the slow proxy stays below it."""

DECISION_SLACK = timedelta(seconds=2)
"""I12's allowance on top of one analysis interval and the query timeout."""

HOLDS = {
    "enabled": ({"enabled": False}, {"enabled": True}),
    "paused": ({"paused": True}, {"paused": False}),
}
"""The spec edits that hold a Rollout (the kill switch, a pause), each with its undo."""


@dataclass(frozen=True)
class ChaosPlan:
    """What to break and when; the same seed gives the same gaps between kills."""

    seed: int
    kills: int = 10
    gap: tuple[float, float] = (0.5, 3.0)
    """Seconds between a restarted operator answering /healthz and the next kill."""
    apiserver_after_kill: int = 2
    prometheus_after_kill: int = 5
    phase_seconds: int = 3
    edit_gap: tuple[float, float] = (1.0, 3.0)
    """Seconds between two random spec edits (each to one of the Rollouts)."""
    hold: tuple[float, float] = (0.5, 2.5)
    """Seconds a Rollout stays disabled or paused before the edit is undone."""
    slow_share: float = 0.3
    """Share of Prometheus queries the proxy answers late (by up to 0.9 x the query timeout)."""
    synced: float = 0.5
    """Share of edits that come as a GitOps sync: an annotation changed first."""
    sync_lead: tuple[float, float] = (0.1, 1.0)
    """Seconds from a sync's annotation to its spec edit."""
    calm: float = 20.0
    """Seconds of edits after the last kill, under one operator that keeps leading."""


@dataclass(frozen=True)
class Delivery:
    at: datetime
    delivery_id: str | None
    body: dict[str, Any]


@dataclass
class ChaosReport:
    seed: int
    kills: int = 0
    restarts: list[tuple[str, float]] = field(default_factory=list)
    """Components restarted, with how long each took to answer ready again."""
    apiserver_recovery: float | None = None
    """Seconds from the restarted apiserver answering /readyz to the operator's next write."""
    crashes: list[str] = field(default_factory=list)
    """Operator exits we did not cause, with the end of its log."""
    outcomes: dict[str, str | None] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    duplicate_transitions: int = 0
    notifications_lost: int = 0
    notifications_duplicated: int = 0
    moments: int = 0
    stream_breaks: int = 0
    relists: int = 0
    """Times the recorder had to list again (a 410 after the apiserver restart, or the CRD
    changing): writes just before each may show only as their newest version."""
    apiserver_down: tuple[datetime, datetime] | None = None
    """From the apiserver's restart to its /readyz answering again."""
    edits: int = 0
    """Random spec edits the apiserver accepted (each a new generation)."""
    queries: int = 0
    """Prometheus queries through the proxy."""
    slow_answers: int = 0
    """Of those, the ones it held before answering."""
    decision_lags: list[tuple[str, invariants.DecisionLag]] = field(default_factory=list)
    """I12: every generation of both Rollouts, with how long it waited for its decision."""
    decision_bound: timedelta = timedelta(0)

    @property
    def edits_late(self) -> int:
        return sum(1 for _, lag in self.decision_lags if lag.lag > self.decision_bound)

    @property
    def max_decision_lag(self) -> float | None:
        return max((lag.lag.total_seconds() for _, lag in self.decision_lags), default=None)

    @property
    def restarts_survived(self) -> int:
        return len(self.restarts)

    def problems(self) -> list[str]:
        """Everything that must be empty for the run to pass, in words."""
        found = list(self.violations)
        found += [f"operator crashed by itself: {crash}" for crash in self.crashes]
        expected = {STEADY: "Completed", BREACH: "RolledBack"}
        for name, phase in expected.items():
            if self.outcomes.get(name) != phase:
                found.append(f"{name} ended {self.outcomes.get(name)!r}, expected {phase}")
        if self.apiserver_recovery is None:
            found.append("no operator write was seen after the apiserver restart")
        if self.relists:
            found.append(
                f"the recorder had to list again {self.relists} time(s) (410 Gone): versions "
                "written just before may be missing from the trace; is the testbed's "
                "apiserver running with --watch-cache=false?"
            )
        return found


class Receiver:
    """A webhook on 127.0.0.1 that records every delivery with its id header."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        lock = threading.Lock()
        received = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with lock:
                    received.append(
                        Delivery(datetime.now(UTC), self.headers.get(DELIVERY_HEADER), body)
                    )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/chaos"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def rollout(
    cluster: Cluster, name: str, namespace: str, plan: ChaosPlan, prometheus: str
) -> dict[str, Any]:
    """5 → 25 → 50 → 100 %, a few seconds each, a worker per phase, every transition told;
    analysed through ``prometheus`` (the slow proxy)."""
    seconds = f"{plan.phase_seconds}s"
    phases = [
        {"name": "canary", "percentage": 5, "duration": seconds, "workers": {"replicas": 2}},
        {"name": "quarter", "percentage": 25, "duration": seconds, "workers": {"replicas": 3}},
        {"name": "half", "percentage": 50, "duration": seconds, "workers": {"replicas": 4}},
        {"name": "everyone", "percentage": 100, "workers": {"replicas": 5}},
    ]
    manifest = analysed_rollout(
        cluster,
        name,
        f"{namespace}-{name}",
        [error_rate()],
        phases=phases,
        address=prometheus,
        workers=[{"deployment": f"{name}-worker"}],
        notifications=[{"secretRef": {"name": "hook", "key": "url"}, "on": SUBSCRIBED}],
    )
    # Prometheus restarts during the run: tolerate its outage (holding promotion meanwhile)
    # instead of counting it as the metric failing.
    manifest["spec"]["analysis"]["errorLimit"] = 30
    assert manifest["spec"]["analysis"]["prometheus"]["timeout"] == f"{QUERY_TIMEOUT:g}s"
    return manifest


@contextmanager
def quiet_retries() -> Iterator[None]:
    """urllib3 warns at every retry of a request while the apiserver restarts: hundreds of
    lines for an outage the run causes on purpose. Errors still show."""
    noisy = logging.getLogger("urllib3.connectionpool")
    level = noisy.level
    noisy.setLevel(logging.ERROR)
    try:
        yield
    finally:
        noisy.setLevel(level)


@contextmanager
def scenario(
    cluster: Cluster, namespace: str, plan: ChaosPlan
) -> Iterator[tuple[dict[str, Exporter], Receiver, SlowProxy]]:
    """Exporters, webhook, its Secret, the workers and the slow Prometheus proxy; torn down
    afterwards."""
    exporters: dict[str, Exporter] = {}
    receiver = Receiver()
    proxy = SlowProxy(
        cluster.prometheus_url,
        f"{plan.seed} proxy",
        longest=0.9 * QUERY_TIMEOUT,
        share=plan.slow_share,
    )
    try:
        for name in (STEADY, BREACH):
            exp = start_exporter(cluster, f"{namespace}-{name}")
            exporters[name] = exp
            exp.set_error_rate(0.0)
            deployment(cluster, namespace, f"{name}-worker", replicas=WORKER_REPLICAS)
        for name in exporters:
            promql = f'max(ramp_test_error_rate{{exporter="{namespace}-{name}"}})'
            wait_scraped(cluster, promql, 0.0)
        url = base64.b64encode(receiver.url.encode()).decode()
        cluster.core.create_namespaced_secret(
            namespace, {"metadata": {"name": "hook"}, "data": {"url": url}}
        )
        yield exporters, receiver, proxy
    finally:
        for exp in exporters.values():
            exp.stop()
        receiver.stop()
        proxy.close()


def run_chaos(cluster: Cluster, namespace: str, log: Path, plan: ChaosPlan) -> ChaosReport:
    """Run the whole scenario in ``namespace`` (which the caller creates and deletes)."""
    report = ChaosReport(seed=plan.seed)
    rng = random.Random(plan.seed)
    testbed = load_testbed()
    tb = testbed.Testbed(dir=cluster.dir)
    with quiet_retries(), scenario(cluster, namespace, plan) as (exporters, receiver, proxy):
        recorder = Recorder(cluster, namespace).start()
        # The receiver is on loopback; without the flag the operator would post no webhook.
        operator = OperatorProcess(
            cluster, [namespace], log, ("--webhook-allow", "http://127.0.0.1:*")
        )
        leading = LeaderWatch(operator)
        operator.start()
        breach = BreachTrigger(cluster, namespace, exporters[BREACH])
        manifests = {
            name: rollout(cluster, name, namespace, plan, proxy.url) for name in (STEADY, BREACH)
        }
        edits = SpecEdits(cluster, namespace, manifests, plan)
        prometheus_down: tuple[datetime, datetime] | None = None
        recorded_until = datetime.now(UTC)
        with stopping(cluster, [operator]):
            try:
                for manifest in manifests.values():
                    apply(cluster, namespace, manifest)
                breach.start()
                edits.start()
                eventually(
                    lambda: status(cluster, namespace, STEADY).get("phase"),
                    timeout=60,
                    what=f"the operator to start working on {STEADY}",
                )
                leader = lease_holder(cluster, namespace)
                for kill in range(1, plan.kills + 1):
                    time.sleep(rng.uniform(*plan.gap))  # the chaos schedule, not synchronisation
                    if operator.proc is not None and operator.proc.poll() is not None:
                        report.crashes.append(
                            f"exit {operator.proc.returncode}: {operator.tail(20)}"
                        )
                    else:
                        operator.kill()
                        report.kills += 1
                    operator.start()
                    leader = wait_for_leader(cluster, namespace, previous=leader)
                    if kill == plan.apiserver_after_kill:
                        restart_apiserver(cluster, tb, testbed, recorder, report)
                    if kill == plan.prometheus_after_kill:
                        began, down = time.monotonic(), datetime.now(UTC)
                        testbed.restart(tb, "prometheus")
                        report.restarts.append(("prometheus", time.monotonic() - began))
                        prometheus_down = (down, datetime.now(UTC))
                # Edits go on under the last operator, which keeps leading: each kill above cuts a
                # leadership short of I12's bound, which then runs from the next one (the schedule,
                # not synchronisation).
                time.sleep(plan.calm)
                # Every Rollout enabled and un-paused again before they are left to end.
                edits.stop()
                settle(cluster, namespace, report, receiver)
                if operator.proc is not None and operator.proc.poll() is not None:
                    report.crashes.append(f"exit {operator.proc.returncode}: {operator.tail(20)}")
            finally:
                edits.stop()
                breach.stop()
                leading.stop()
                recorded_until = datetime.now(UTC)
                recorder.stop()
        versions = recorder.snapshot()
        recorder.dump(log.with_suffix(".trace.jsonl"))
        report.stream_breaks = recorder.broken_streams
        report.relists = len(recorder.relists)
        report.edits, report.queries, report.slow_answers = (
            edits.made,
            proxy.answered,
            proxy.delayed,
        )
        outages = leading.down + ([report.apiserver_down] if report.apiserver_down else [])
        for name in (STEADY, BREACH):
            trace = moments(versions, name)
            report.moments += len(trace)
            seen_breach = breaching(breach.fired_at, prometheus_down) if name == BREACH else []
            problems = check_invariants(trace, seen_breach)
            problems += check_decided_in_time(
                name, trace, generations(versions, name), recorded_until, outages, report
            )
            report.violations += [f"{name}: {problem}" for problem in problems]
        dump_decisions(log.with_suffix(".decisions.json"), outages, report)
        final = {name: final_status(versions, name) for name in (STEADY, BREACH)}
        report.duplicate_transitions = sum(duplicates(s) for s in final.values())
        lost, duplicated = compare_deliveries(final, receiver.deliveries)
        report.notifications_lost, report.notifications_duplicated = len(lost), duplicated
        report.violations += [f"I8: notification never delivered: {what}" for what in lost]
        if duplicated:
            report.violations.append(
                f"I8: {duplicated} notification(s) delivered again under a different "
                f"{DELIVERY_HEADER} id (or none)"
            )
        if report.duplicate_transitions:
            report.violations.append(
                f"I7: {report.duplicate_transitions} transition(s) recorded twice in history"
            )
    return report


class LeaderWatch:
    """When no operator leads (killed, starting, campaigning, or stood down after failing to
    renew), as the operator's `ramp_leader` gauge says, polled every 0.1 s on its metrics port
    (the same port across restarts). Nothing can be decided meanwhile (I12)."""

    POLL = 0.1

    def __init__(self, operator: OperatorProcess) -> None:
        self.url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
        self.down: list[tuple[datetime, datetime]] = []
        self._since: datetime | None = datetime.now(UTC)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="leader watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stopping.set()
            self._thread.join(5)
            if self._since is not None:
                self.down.append((self._since, datetime.now(UTC)))
                self._since = None

    def leads(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=1) as r:
                text = r.read().decode()
        except OSError:
            return False  # killed, or not serving yet
        return any(
            line.split()[1:] == ["1.0"]
            for line in text.splitlines()
            if line.startswith("ramp_leader ")
        )

    def _poll(self) -> None:
        while not self._stopping.wait(self.POLL):
            leads, now = self.leads(), datetime.now(UTC)
            if leads and self._since is not None:
                self.down.append((self._since, now))
                self._since = None
            elif not leads and self._since is None:
                self._since = now


class SpecEdits:
    """A person editing both specs at random (seeded): the kill switch off and on again a
    moment later, spec.paused on and off, the critical threshold changed; some edits come as a
    GitOps sync, an annotation changed just before. Edits the apiserver refuses (it restarts
    during the run) are not retried, undoing a hold is."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        manifests: dict[str, dict[str, Any]],
        plan: ChaosPlan,
    ) -> None:
        self.cluster, self.namespace, self.plan = cluster, namespace, plan
        self.metrics = {name: m["spec"]["analysis"]["metrics"] for name, m in manifests.items()}
        self.rng = random.Random(f"{plan.seed} edits")  # not the kills' sequence
        self.made = 0
        self.syncs = 0
        self.held: dict[str, tuple[dict[str, Any], float]] = {}
        """Rollout -> (the spec patch that undoes its hold, when to undo it, monotonic)."""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._edit, name="spec edits", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop editing and undo every hold still in place (waiting for the apiserver)."""
        if not self._stopping.is_set():
            self._stopping.set()
            self._thread.join(15)
        for name, (undo, _) in list(self.held.items()):
            self._undo(name, undo)
            del self.held[name]

    def _undo(self, name: str, undo: dict[str, Any]) -> None:
        eventually(
            lambda: self._patch(name, {"spec": undo}),
            timeout=60,
            what=f"{name} enabled and un-paused",
        )

    def _patch(self, name: str, patch: dict[str, Any]) -> bool:
        try:
            self.cluster.custom.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, patch
            )
        except Exception:
            return False  # the apiserver may be restarting
        if "spec" in patch:
            self.made += 1
        return True

    def _edit(self) -> None:
        next_edit = time.monotonic() + self.rng.uniform(*self.plan.edit_gap)
        while True:
            due = min([next_edit, *(at for _, at in self.held.values())])
            if self._stopping.wait(max(0.0, due - time.monotonic())):
                return
            now = time.monotonic()
            for name, (undo, at) in list(self.held.items()):
                if at > now:
                    continue
                if self._patch(name, {"spec": undo}):
                    del self.held[name]
                else:  # the apiserver restarting: try again in a moment
                    self.held[name] = (undo, now + 0.5)
            if next_edit <= now:
                next_edit = now + self.rng.uniform(*self.plan.edit_gap)
                self._one_edit()

    def _one_edit(self) -> None:
        name = self.rng.choice(sorted(self.metrics))
        if self.rng.random() < self.plan.synced:
            # As a GitOps tool syncing does: an annotation first (no new generation, yet the
            # operator decides again in whole), the spec edit a moment later, often while
            # that decision waits on its query.
            self.syncs += 1
            touched = {"annotations": {"ramp.test/synced": str(self.syncs)}}
            self._patch(name, {"metadata": touched})
            if self._stopping.wait(self.rng.uniform(*self.plan.sync_lead)):
                return
        kind = self.rng.choice(("enabled", "paused", "threshold"))
        if name in self.held:
            kind = "threshold"  # one hold at a time per Rollout; it is undone on schedule
        if kind == "threshold":
            metric = self.metrics[name][0]
            above = self.rng.choice([t for t in THRESHOLDS if t != metric["critical"]["above"]])
            edited = [{**metric, "critical": {**metric["critical"], "above": above}}]
            if self._patch(name, {"spec": {"analysis": {"metrics": edited}}}):
                self.metrics[name] = edited
            return
        hold, undo = HOLDS[kind]
        if self._patch(name, {"spec": hold}):
            self.held[name] = (undo, time.monotonic() + self.rng.uniform(*self.plan.hold))


def lease_holder(cluster: Cluster, namespace: str) -> str | None:
    """Who holds the operator's leader Lease in ``namespace``; None without one (an operator
    that does not elect a leader)."""
    try:
        lease = client.CoordinationV1Api(cluster.api).read_namespaced_lease(LEASE, namespace)
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise
    return str(lease.spec.holder_identity or "")


def wait_for_leader(cluster: Cluster, namespace: str, previous: str | None) -> str | None:
    """Wait until a freshly started operator leads (holds the Lease instead of ``previous``,
    the one just killed), so the next kill lands while it reconciles. Without leader election
    (``previous`` None: no Lease) there is nothing to wait for."""
    if previous is None:
        return None

    def new_holder() -> str | None:
        holder = lease_holder(cluster, namespace)
        return holder if holder and holder != previous else None

    return eventually(new_holder, timeout=60, what="the restarted operator to take the Lease")


class BreachTrigger:
    """Raises the ``breach`` Rollout's error rate once it has been promoted past its canary."""

    def __init__(self, cluster: Cluster, namespace: str, exporter: Exporter) -> None:
        self.cluster, self.namespace, self.exporter = cluster, namespace, exporter
        self.fired_at: datetime | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="breach trigger", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            try:
                index = status(self.cluster, self.namespace, BREACH).get("currentPhaseIndex")
            except Exception:
                continue  # the apiserver may be restarting; ask again
            if isinstance(index, int) and index >= 1:
                self.exporter.set_error_rate(0.5)
                self.fired_at = datetime.now(UTC)
                return


def restart_apiserver(
    cluster: Cluster, tb: Any, testbed: Any, recorder: Recorder, report: ChaosReport
) -> None:
    """Restart kube-apiserver and time how long the operator takes to write again."""
    began, down = time.monotonic(), datetime.now(UTC)
    testbed.restart(tb, "kube-apiserver")
    report.restarts.append(("kube-apiserver", time.monotonic() - began))
    ready = datetime.now(UTC)
    report.apiserver_down = (down, ready)
    names = {STEADY, BREACH, f"{STEADY}-flag", f"{BREACH}-flag"}

    def written() -> datetime | None:
        return first_write_after(recorder.snapshot(), ready, names)

    try:
        wrote = eventually(written, timeout=60, what="the operator's first write after restart")
    except AssertionError:
        return  # reported by ChaosReport.problems as no write after the restart
    assert wrote is not None
    report.apiserver_recovery = (wrote - ready).total_seconds()


def settle(cluster: Cluster, namespace: str, report: ChaosReport, receiver: Receiver) -> None:
    """Wait for both Rollouts to end, their workers to be restored and their news delivered;
    what does not happen in time is reported, not raised."""

    def phases() -> dict[str, str | None]:
        return {n: status(cluster, namespace, n).get("phase") for n in (STEADY, BREACH)}

    try:
        eventually(
            lambda: all(p in TERMINAL for p in phases().values()),
            timeout=90,
            what="both Rollouts to end",
        )
    except AssertionError as e:
        report.violations.append(f"the run did not end: {e}")
    report.outcomes = phases()
    workers = [f"{name}-worker" for name in (STEADY, BREACH)]

    def scale() -> dict[str, dict[str, int | None]]:
        return {w: {"replicas": replicas(cluster, namespace, w)} for w in workers}

    originals = {w: {"replicas": WORKER_REPLICAS} for w in workers}
    with suppress(AssertionError):  # judged just below, by the invariant's own check
        eventually(lambda: scale() == originals, timeout=30, what="workers restored")
    try:
        invariants.check_workers_restored(originals, scale())
    except AssertionError as e:
        report.violations.append(str(e))

    def delivered() -> bool:
        final = {n: status(cluster, namespace, n) for n in (STEADY, BREACH)}
        return not compare_deliveries(final, receiver.deliveries)[0]

    # What is still missing then is counted as lost by the caller, transition by transition.
    with suppress(AssertionError):
        eventually(delivered, timeout=30, what="every subscribed transition delivered")


def final_status(versions: list[Any], name: str) -> dict[str, Any]:
    """The last recorded status of Rollout ``name`` before its deletion."""
    last: dict[str, Any] = {}
    for version in versions:
        if version.kind == "Rollout" and version.name == name:
            if version.obj is None:
                break
            last = version.obj.get("status") or {}
    return last


def transition_key(name: str, reason: str, step: Any, percentage: Any) -> str:
    return f"{name}: {reason} at {step} ({float(percentage or 0):g} %)"


def duplicates(status: dict[str, Any]) -> int:
    """History entries that repeat a transition this scenario can make only once."""
    seen = Counter(
        (entry.get("reason"), entry.get("step"), entry.get("percentage"))
        for entry in status.get("history") or []
        if entry.get("reason") in SUBSCRIBED
    )
    return sum(count - 1 for count in seen.values() if count > 1)


def compare_deliveries(
    final: dict[str, dict[str, Any]], deliveries: list[Delivery]
) -> tuple[list[str], int]:
    """I8 over the webhook: (transitions in history never delivered, deliveries of one
    transition beyond the first that do not share its delivery id)."""
    expected: Counter[str] = Counter()
    for name, st in final.items():
        for entry in st.get("history") or []:
            if entry.get("reason") in SUBSCRIBED:
                key = transition_key(name, entry["reason"], entry.get("step"), entry["percentage"])
                expected[key] += 1
    received: dict[str, set[str]] = {}
    anonymous: Counter[str] = Counter()
    for delivery in list(deliveries):
        about = delivery.body.get("rollout") or {}
        key = transition_key(
            about.get("name", "?"),
            about.get("transition", "?"),
            about.get("phase"),
            about.get("percentage"),
        )
        if delivery.delivery_id is None:
            anonymous[key] += 1
        else:
            received.setdefault(key, set()).add(delivery.delivery_id)
    lost: list[str] = []
    duplicated = 0
    for key in set(expected) | set(received) | set(anonymous):
        distinct = len(received.get(key, ())) + anonymous[key]
        lost += [key] * max(0, expected[key] - distinct)
        duplicated += max(0, distinct - expected[key])
    return sorted(lost), duplicated


def check_invariants(
    trace: list[invariants.Moment], seen_breach: list[invariants.Breaching]
) -> list[str]:
    """I1-I7 and I10 over the recorded trace (the first violation, in words).

    What the engine was given is read back from the stored statuses (status.metrics, as the
    operator recorded each evaluation), and each stored status write counts as a completed
    reconcile: the operator writes status at every analysis while a rollout is active.
    """
    try:
        invariants.check_trace(
            trace,
            analysed=analysed(trace),
            breaching=seen_breach,
            reconciles=sorted({m.at for m in trace}),
        )
    except AssertionError as e:
        return [str(e)]
    return []


def generations(versions: list[Version], rollout: str) -> list[int]:
    """The Rollout's `metadata.generation` at each Moment of ``moments(versions, rollout)``
    (the same walk over the same versions)."""
    config_map: str | None = None
    generation = 0
    found: list[int] = []
    for version in storage_order(versions):
        if version.kind == "ConfigMap":
            if version.name != config_map:
                continue
        elif version.name != rollout:
            continue
        elif version.obj is None:
            break
        else:
            generation = int(version.obj["metadata"]["generation"])
            spec = RolloutSpec.model_validate(version.obj.get("spec") or {})
            config_map = spec.flag.config_map
        found.append(generation)
    return found


def dump_decisions(
    path: Path, outages: list[tuple[datetime, datetime]], report: ChaosReport
) -> None:
    """I12's record, for reading a run afterwards: the outages and every generation's lag."""
    record = {
        "outages": [[down.isoformat(), up.isoformat()] for down, up in outages],
        "bound": report.decision_bound.total_seconds(),
        "lags": [
            {
                "rollout": name,
                "generation": lag.generation,
                "seen": lag.seen.isoformat(),
                "since": lag.since.isoformat(),
                "decided": lag.decided.isoformat() if lag.decided else None,
                "lag": lag.lag.total_seconds(),
            }
            for name, lag in report.decision_lags
        ],
    }
    path.write_text(json.dumps(record, indent=1))


def check_decided_in_time(
    name: str,
    trace: list[invariants.Moment],
    generations: list[int],
    until: datetime,
    outages: list[tuple[datetime, datetime]],
    report: ChaosReport,
) -> list[str]:
    """I12 over the recorded trace: every generation decided within one analysis interval plus
    the query timeout plus 2 s of when it could be (not while no operator led nor while the
    apiserver restarted); the lags go to the report."""
    if not trace:
        return []
    assert len(generations) == len(trace), (len(generations), len(trace))
    analysis = trace[0].spec.analysis
    assert analysis is not None
    bound = analysis.every + timedelta(seconds=analysis.prometheus.timeout_seconds) + DECISION_SLACK
    report.decision_bound = bound
    lags = invariants.decision_lags(
        trace, generations, until=until, bound=bound, down_windows=outages
    )
    report.decision_lags += [(name, lag) for lag in lags]
    try:
        invariants.check_every_edit_decided_in_time(lags, bound=bound, t0=trace[0].at)
    except AssertionError as e:
        return [str(e)]
    return []


def analysed(trace: list[invariants.Moment]) -> list[invariants.Analysed]:
    """Every evaluation the stored statuses show, oldest first, one per analysis time."""
    found: dict[datetime, invariants.Analysed] = {}
    for m in trace:
        metrics = m.status.metrics or []
        if not metrics:
            continue
        at = max(metric.observed_at for metric in metrics)
        if at in found:
            continue
        samples = {
            metric.name: MetricSample(
                value=metric.value,
                error=(metric.message or "query failed") if metric.verdict == "Error" else None,
            )
            for metric in metrics
        }
        found[at] = invariants.Analysed(at=at, samples=samples)
    return [found[at] for at in sorted(found)]


def breaching(
    fired_at: datetime | None, prometheus_down: tuple[datetime, datetime] | None
) -> list[invariants.Breaching]:
    """When the breach Rollout's metric crossed its threshold as Prometheus answered it: from
    one scrape after the exporter changed, except while Prometheus was restarting."""
    if fired_at is None:
        return []
    since = fired_at + SCRAPE
    if prometheus_down is None or prometheus_down[1] + SCRAPE <= since:
        return [invariants.Breaching(since=since)]
    down, up = prometheus_down
    intervals = [invariants.Breaching(since=max(since, up + SCRAPE))]
    if down > since:
        intervals.insert(0, invariants.Breaching(since=since, until=down))
    return intervals


def summary(reports: list[ChaosReport]) -> dict[str, Any]:
    """The figures bench/chaos.py prints and docs/RELIABILITY.md keeps."""
    recoveries = [r.apiserver_recovery for r in reports if r.apiserver_recovery is not None]
    lags = [r.max_decision_lag for r in reports if r.max_decision_lag is not None]
    return {
        "runs": len(reports),
        "kills survived": sum(r.kills for r in reports),
        "restarts survived": sum(r.restarts_survived for r in reports),
        "apiserver recovery p50 s": statistics.median(recoveries) if recoveries else None,
        "apiserver recovery max s": max(recoveries) if recoveries else None,
        "invariant violations": sum(len(r.violations) for r in reports),
        "duplicate transitions": sum(r.duplicate_transitions for r in reports),
        "notifications lost": sum(r.notifications_lost for r in reports),
        "operator crashes": sum(len(r.crashes) for r in reports),
        "recorder relists": sum(r.relists for r in reports),
        "spec edits": sum(r.edits for r in reports),
        "Prometheus queries": sum(r.queries for r in reports),
        "slow Prometheus answers": sum(r.slow_answers for r in reports),
        "edits decided late": sum(r.edits_late for r in reports),
        "max decision lag s": max(lags) if lags else None,
    }
