"""Flag-on vs flag-off against an aggregate threshold, side by side on the real Prometheus.

An app's traffic (tests.support.cohorts.CohortTraffic: N units/s split by what the Rollout's
ConfigMap publishes, labelled by variant, failing at p0 or r x p0) is scraped every second by
the testbed's Prometheus (`make cluster`). The real operator runs the Rollouts.

1. Calibration (A/A): one Rollout held at 5 % with a compare metric and equal failure rates for
   --calibrate seconds. The compare metric must not fire. The aggregate failure rate over a
   1-minute window (what a threshold metric would query) is sampled every analysis interval;
   the best aggregate threshold with no false alarm on this traffic is just above its maximum.
2. Regression (r = 2 at 5 %): --runs Rollouts with the compare metric and one Rollout with the
   calibrated aggregate threshold, each with its own app, all at once. Each time to rollback
   is taken from status.history (Started to RolledBack), capped at --cap seconds.

Prints both, and Wald's expected detection time ln(1/alpha) / (f N p0 (r ln r - r + 1)).

Usage: .venv/bin/python -m bench.cohorts [--runs 5] [--calibrate 180] [--cap 900]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import connect, start_operator
from ramp.engine.sequential import wald_detection_seconds
from tests.support.cohorts import FAILED, TOTAL, CohortTraffic, compare_metric
from tests.support.exporter import query
from tests.support.rollouts import GROUP, PLURAL, VERSION, rollout_manifest

UNITS, P0, RATIO, FRACTION, CONFIDENCE = 200.0, 0.01, 2.0, 0.05, 0.95
INTERVAL = 5  # seconds between analyses


def aggregate_query(exporter: str) -> str:
    return (
        f'sum(rate({FAILED}{{exporter="{exporter}"}}[1m])) '
        f'/ sum(rate({TOTAL}{{exporter="{exporter}"}}[1m]))'
    )


def rollout(name: str, prometheus: str, metric: dict[str, Any]) -> dict[str, Any]:
    return rollout_manifest(
        name,
        [
            {"name": "canary", "percentage": FRACTION * 100, "duration": "1h"},
            {"name": "everyone", "percentage": 100},
        ],
        analysis={
            "interval": f"{INTERVAL}s",
            "prometheus": {"address": prometheus, "timeout": "2s"},
            "metrics": [metric],
        },
        failurePolicy={"action": "Rollback", "rollbackTo": "Zero"},
    )


def seconds_to_rollback(status: dict[str, Any]) -> float | None:
    history = status.get("history") or []
    started = next((h["time"] for h in history if h["reason"] == "Started"), None)
    rolled = next((h["time"] for h in history if h["phase"] == "RolledBack"), None)
    if started is None or rolled is None:
        return None
    parse = datetime.fromisoformat
    return (parse(rolled.replace("Z", "+00:00")) - parse(started.replace("Z", "+00:00"))).seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calibrate", type=float, default=180)
    parser.add_argument("--cap", type=float, default=900)
    args = parser.parse_args()

    cluster = connect()
    custom = cluster.custom
    tag = uuid.uuid4().hex[:6]
    namespace = f"bench-cohorts-{tag}"
    log = Path(tempfile.mkdtemp(prefix="ramp-bench-")) / f"{namespace}-operator.log"
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    apps: list[CohortTraffic] = []
    operator = None

    def app(name: str, ratio: float) -> str:
        traffic = CohortTraffic(
            cluster,
            namespace,
            f"{name}-flag",
            name,
            units_per_second=UNITS,
            control_rate=P0,
            treatment_rate=P0 * ratio,
            seed=len(apps) + 1,
            target=f"{namespace}-{name}",
        ).start()
        apps.append(traffic)
        return f"{namespace}-{name}"

    def status(name: str) -> dict[str, Any]:
        obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        return obj.get("status") or {}

    def create(manifest: dict[str, Any]) -> None:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)

    wald = wald_detection_seconds(FRACTION, UNITS, P0, RATIO, 1 - CONFIDENCE)
    assert wald is not None
    print(f"namespace {namespace}, operator log {log}", flush=True)
    print(
        f"traffic {UNITS:g} units/s, p0 {P0:.0%}, regression {RATIO:g}x at {FRACTION:.0%}; "
        f"Wald's expected detection {wald:.0f} s at {CONFIDENCE:.0%}",
        flush=True,
    )
    try:
        operator = start_operator(cluster, namespace, log)
        exporter = app("calibration", 1.0)
        create(rollout("calibration", cluster.prometheus_url, compare_metric(exporter)))
        print(f"calibrating on {args.calibrate:.0f} s of A/A traffic at 5 % ...", flush=True)
        end = time.monotonic() + args.calibrate
        aggregate: list[float] = []
        while time.monotonic() < end:
            time.sleep(INTERVAL)
            value = query(cluster, aggregate_query(exporter))
            if value is not None and status("calibration").get("percentage") == FRACTION * 100:
                aggregate.append(value)
        aa = status("calibration")
        compare_fired = aa.get("phase") == "RolledBack"
        verdict = ((aa.get("metrics") or [{}])[0].get("compare") or {}).get("verdict")
        threshold = max(aggregate) * 1.0001
        print(
            f"A/A: compare metric {'FIRED' if compare_fired else 'did not fire'} "
            f"(verdict {verdict}); aggregate 1m failure rate over {len(aggregate)} samples: "
            f"mean {statistics.fmean(aggregate):.4%}, max {max(aggregate):.4%} -> best "
            f"threshold with no false alarm: above {threshold:.4%}",
            flush=True,
        )
        names = [f"compare-{i}" for i in range(args.runs)]
        for name in names:
            create(rollout(name, cluster.prometheus_url, compare_metric(app(name, RATIO))))
        exporter = app("aggregate", RATIO)
        create(
            rollout(
                "aggregate",
                cluster.prometheus_url,
                {
                    "name": "failure-rate",
                    "query": aggregate_query(exporter),
                    "critical": {"above": threshold},
                },
            )
        )
        deadline = time.monotonic() + args.cap
        subjects = [*names, "aggregate"]
        times: dict[str, float | None] = dict.fromkeys(subjects)
        while time.monotonic() < deadline and any(times[n] is None for n in subjects):
            time.sleep(2)
            for name in subjects:
                if times[name] is None:
                    times[name] = seconds_to_rollback(status(name))
        compare = sorted(t for n in names if (t := times[n]) is not None)
        print(f"{'rollout':<12} {'rollback after':>15}", flush=True)
        for name in subjects:
            t = times[name]
            print(f"{name:<12} {'> cap' if t is None else f'{t:.0f} s':>15}", flush=True)
        missed = args.runs - len(compare)
        median = statistics.median(compare) if compare else float("inf")
        agg = times["aggregate"]
        print(
            f"compare: median {median:.0f} s over {len(compare)} runs ({missed} missed), "
            f"{median / wald:.2f}x Wald; aggregate threshold: "
            f"{'not within ' + str(int(args.cap)) + ' s' if agg is None else f'{agg:.0f} s'}"
            f" -> compare at least {(agg or args.cap) / median:.1f}x sooner",
            flush=True,
        )
    finally:
        for traffic in apps:
            traffic.stop()
        if operator is not None:
            operator.stop()
        cluster.core.delete_namespace(namespace, propagation_policy="Background")
        cluster.api.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
