"""The chaos run: two Rollouts on the real control plane while the operator is SIGKILLed again and
again, the apiserver restarts once and Prometheus once. Shared by the e2e test and bench/chaos.py.

One Rollout (``steady``) is healthy all along and must complete; the other (``breach``) sees its
error rate breach once it reaches its second phase and must roll back. Both scale a worker
Deployment and announce their transitions on a webhook the run serves on 127.0.0.1. A recorder
keeps every version of both Rollouts and ConfigMaps; at the end the trace is checked against the
invariants of docs/behaviour.md (I1-I10) and the deliveries against the history.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubernetes import client

from ramp.engine.observations import MetricSample
from ramp.engine.phases import TERMINAL
from tests.conftest import Cluster, load_testbed
from tests.integration.conftest import OperatorProcess, release_rollouts
from tests.support import invariants
from tests.support.analysis import analysed_rollout, error_rate
from tests.support.eventually import eventually
from tests.support.exporter import Exporter, start_exporter, wait_scraped
from tests.support.rollouts import apply, status
from tests.support.trace import Recorder, first_write_after, moments
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


def rollout(cluster: Cluster, name: str, namespace: str, plan: ChaosPlan) -> dict[str, Any]:
    """5 → 25 → 50 → 100 %, a few seconds each, a worker per phase, every transition told."""
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
        workers=[{"deployment": f"{name}-worker"}],
        notifications=[{"secretRef": {"name": "hook", "key": "url"}, "on": SUBSCRIBED}],
    )
    # Prometheus restarts during the run: tolerate its outage (holding promotion meanwhile)
    # instead of counting it as the metric failing.
    manifest["spec"]["analysis"]["errorLimit"] = 30
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
def scenario(cluster: Cluster, namespace: str) -> Iterator[tuple[dict[str, Exporter], Receiver]]:
    """Exporters, webhook, its Secret and the workers; torn down afterwards."""
    exporters: dict[str, Exporter] = {}
    receiver = Receiver()
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
        yield exporters, receiver
    finally:
        for exp in exporters.values():
            exp.stop()
        receiver.stop()


def run_chaos(cluster: Cluster, namespace: str, log: Path, plan: ChaosPlan) -> ChaosReport:
    """Run the whole scenario in ``namespace`` (which the caller creates and deletes)."""
    report = ChaosReport(seed=plan.seed)
    rng = random.Random(plan.seed)
    testbed = load_testbed()
    tb = testbed.Testbed(dir=cluster.dir)
    with quiet_retries(), scenario(cluster, namespace) as (exporters, receiver):
        recorder = Recorder(cluster, namespace).start()
        # The receiver is on loopback; without the flag the operator would post no webhook.
        operator = OperatorProcess(
            cluster, [namespace], log, ("--webhook-allow", "http://127.0.0.1:*")
        )
        operator.start()
        breach = BreachTrigger(cluster, namespace, exporters[BREACH])
        prometheus_down: tuple[datetime, datetime] | None = None
        try:
            for name in (STEADY, BREACH):
                apply(cluster, namespace, rollout(cluster, name, namespace, plan))
            breach.start()
            eventually(
                lambda: status(cluster, namespace, STEADY).get("phase"),
                timeout=60,
                what=f"the operator to start working on {STEADY}",
            )
            leader = lease_holder(cluster, namespace)
            for kill in range(1, plan.kills + 1):
                time.sleep(rng.uniform(*plan.gap))  # the chaos schedule, not synchronisation
                if operator.proc is not None and operator.proc.poll() is not None:
                    report.crashes.append(f"exit {operator.proc.returncode}: {operator.tail(20)}")
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
            settle(cluster, namespace, report, receiver)
            if operator.proc is not None and operator.proc.poll() is not None:
                report.crashes.append(f"exit {operator.proc.returncode}: {operator.tail(20)}")
        finally:
            breach.stop()
            recorder.stop()
            try:
                if operator.proc is not None and operator.proc.poll() is None:
                    release_rollouts(cluster, namespace)
            finally:
                operator.stop()
        versions = recorder.snapshot()
        recorder.dump(log.with_suffix(".trace.jsonl"))
        report.stream_breaks = recorder.broken_streams
        report.relists = len(recorder.relists)
        for name in (STEADY, BREACH):
            trace = moments(versions, name)
            report.moments += len(trace)
            seen_breach = breaching(breach.fired_at, prometheus_down) if name == BREACH else []
            problems = check_invariants(trace, seen_breach)
            report.violations += [f"{name}: {problem}" for problem in problems]
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


def lease_holder(cluster: Cluster, namespace: str) -> str | None:
    """Who holds the operator's leader Lease in ``namespace``; None without one (an operator
    that does not elect a leader)."""
    try:
        lease = client.CoordinationV1Api(cluster.api_client).read_namespaced_lease(LEASE, namespace)
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
    began = time.monotonic()
    testbed.restart(tb, "kube-apiserver")
    report.restarts.append(("kube-apiserver", time.monotonic() - began))
    ready = datetime.now(UTC)
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
    }
