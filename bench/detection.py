"""How fast Ramp rolls back once Prometheus shows a critical breach.

Runs the real operator (`python -m ramp run`) against the local control plane and Prometheus
(`make cluster`) in a namespace of its own, with one test-controlled exporter scraped every
second. Each run:

1. after a random 0-1 s delay (a random offset between the operator's analysis cycle and the
   scrape cycle: the bench's own steps would otherwise phase-lock them), creates a Rollout
   analysed every 1s with `max(ramp_test_error_rate{exporter="NAME"})` critical above 0.05
   (no `for`: the first breaching evaluation is sustained enough), phases 10 % (1h soak) ->
   100 %, and waits until it is Progressing at 10 %;
2. after a random 0-2 s delay, sets the exporter's error rate to 0.5;
3. polls Prometheus (instant query, every ~20 ms) for the first answer above 0.05, and the
   ConfigMap (every ~10 ms) for the published percentage turning "0" (the rollback);
4. records the difference: from the moment Prometheus FIRST answers with a breaching value to
   the moment the ConfigMap shows the rolled-back percentage;
5. deletes the Rollout and sets the error rate back to 0 (waiting for Prometheus to see it).

Prints per-run figures, min/p50/p95/max and the target: at most one analysis interval + 1 s.

Usage: .venv/bin/python -m bench.detection [--runs 20]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client

from bench.harness import connect, start_operator, wait
from tests.support.analysis import analysed_rollout, error_rate
from tests.support.cluster import Cluster
from tests.support.exporter import Exporter, query, wait_scraped
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import GROUP, PLURAL, VERSION

KEY = "FEATURE_PERCENTAGE"  # the env key tests.support.rollouts.rollout_manifest uses
THRESHOLD = 0.05
BREACH = 0.5
INTERVAL = 1.0  # spec.analysis.interval of the benchmarked rollouts, seconds
TARGET = INTERVAL + 1.0
PROM_POLL, CM_POLL = 0.02, 0.01


class Poller(threading.Thread):
    """Calls ``probe`` every ``every`` seconds until it is true; remembers when it first was."""

    def __init__(self, probe: Callable[[], bool], every: float, deadline: float) -> None:
        super().__init__(daemon=True)
        self.probe, self.every, self.deadline = probe, every, deadline
        self.at: float | None = None
        self.polls = 0
        self.errors = 0

    def run(self) -> None:
        while time.perf_counter() < self.deadline:
            try:
                hit = self.probe()
            except Exception:
                hit = False
                self.errors += 1
            self.polls += 1
            if hit:
                self.at = time.perf_counter()  # when the answer arrived
                return
            time.sleep(self.every)


def manifest(cluster: Cluster, name: str, exporter: str) -> dict[str, Any]:
    return analysed_rollout(
        cluster,
        name,
        exporter,
        [error_rate(critical={"above": THRESHOLD})],
        phases=[
            {"name": "canary", "percentage": 10, "duration": "1h"},
            {"name": "everyone", "percentage": 100},
        ],
    )


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    cluster = connect()
    core, custom = cluster.core, cluster.custom
    tag = uuid.uuid4().hex[:6]
    namespace = f"bench-detection-{tag}"
    log = Path(tempfile.mkdtemp(prefix="ramp-bench-")) / f"{namespace}-operator.log"
    core.create_namespace({"metadata": {"name": namespace}})
    exporter = Exporter(cluster, f"bench-detection-{tag}").start()
    promql = f'max(ramp_test_error_rate{{exporter="{exporter.name}"}})'
    operator: OperatorProcess | None = None
    rows: list[dict[str, float]] = []
    began = time.perf_counter()
    print(f"namespace {namespace}, exporter {exporter.name}, operator log {log}", flush=True)

    def published(name: str) -> str | None:
        try:
            cm = core.read_namespaced_config_map(f"{name}-flag", namespace)
        except client.ApiException:
            return None
        return (cm.data or {}).get(KEY)

    def status(name: str) -> dict[str, Any]:
        obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        return obj.get("status") or {}

    def gone(name: str) -> bool:
        try:
            custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except client.ApiException as e:
            return e.status == 404
        return False

    try:
        exporter.set_error_rate(0.0)
        wait_scraped(cluster, promql, 0.0)
        operator = start_operator(cluster, namespace, log)
        print(f"{'run':>3} {'scrape ms':>10} {'detect ms':>10} {'total ms':>9}", flush=True)
        for run in range(1, args.runs + 1):
            name = f"detect-{run}"
            # The breach becomes visible at a scrape (every 1 s) and is seen at the operator's
            # next analysis (every interval from the rollout's creation): a random creation time
            # gives a random offset between the two cycles, as in real life. Without it the
            # bench's own steps (which follow a scrape) phase-lock them and every run measures
            # the same lucky moment.
            time.sleep(random.uniform(0, INTERVAL))
            custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, manifest(cluster, name, exporter.name)
            )
            wait(
                lambda n=name: (
                    status(n).get("phase") == "Progressing"
                    and status(n).get("currentPhase") == "canary"
                    and published(n) == "10"
                ),
                30,
                f"{name} to progress at 10 %",
            )
            deadline = time.perf_counter() + 30
            prom = Poller(lambda: (query(cluster, promql) or 0.0) > THRESHOLD, PROM_POLL, deadline)
            cm = Poller(lambda n=name: published(n) == "0", CM_POLL, deadline)
            prom.start()
            cm.start()
            time.sleep(0.05 + random.uniform(0, 2 * INTERVAL))  # a random moment to break
            changed = time.perf_counter()
            exporter.set_error_rate(BREACH)
            prom.join()
            cm.join()
            if prom.at is None or cm.at is None:
                raise TimeoutError(
                    f"run {run}: no {'breach in Prometheus' if prom.at is None else 'rollback'} "
                    f"within 30s; status {status(name)}; see {log}"
                )
            row = {
                "scrape": prom.at - changed,
                "detect": cm.at - prom.at,
                "total": cm.at - changed,
            }
            rows.append(row)
            print(
                f"{run:>3} {row['scrape'] * 1000:>10.0f} {row['detect'] * 1000:>10.0f} "
                f"{row['total'] * 1000:>9.0f}",
                flush=True,
            )
            final = status(name)
            if final.get("phase") != "RolledBack":
                print(f"    note: status.phase is {final.get('phase')!r}", flush=True)
            custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
            exporter.set_error_rate(0.0)
            wait_scraped(cluster, promql, 0.0)
            wait(lambda n=name: gone(n), 30, f"{name} to be deleted", poll=0.05)
    finally:
        if operator is not None:
            operator.stop()
        exporter.stop()
        core.delete_namespace(namespace, propagation_policy="Background")
        cluster.api.close()

    detect = sorted(r["detect"] * 1000 for r in rows)
    total = sorted(r["total"] * 1000 for r in rows)
    print(f"\nRamp detection latency over {len(rows)} runs (operator log: {log})\n")
    print(f"{'':<34} {'min':>6} {'p50':>6} {'p95':>6} {'max':>6}  (ms)")
    for label, values in (
        ("first breaching answer -> 0 %", detect),
        ("error rate set -> 0 % (info)", total),
    ):
        print(
            f"{label:<34} {values[0]:>6.0f} {statistics.median(values):>6.0f} "
            f"{percentile(values, 0.95):>6.0f} {values[-1]:>6.0f}"
        )
    met = detect[-1] <= TARGET * 1000
    print(
        f"\ntarget: at most one analysis interval + 1 s = {TARGET * 1000:.0f} ms "
        f"(every run) -> {'met' if met else 'NOT met'}"
    )
    print(f"total {time.perf_counter() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
