"""How Ramp survives a crash loop and control-plane restarts, in figures.

Runs the chaos scenario of tests/e2e/test_chaos_keeps_invariants.py (tests/support/chaos.py)
``--runs`` times against the local control plane (`make cluster`), each in a namespace of its
own: the real operator SIGKILLed ``--kills`` times 0.5-3 s apart, kube-apiserver restarted once
and Prometheus once, one Rollout healthy (must complete) and one breaching (must roll back), both
edited at random (kill switch, pause, threshold; during the kills and 20 s after them) and
analysed through a Prometheus proxy that answers some queries late. Prints, over all runs:
kills survived, restarts survived, the time from the restarted apiserver answering /readyz to
the operator's next write (p50 / max), invariant violations, duplicate transitions,
notifications lost, edits decided late (these four must be 0) and the max decision lag (I12).
Exits 1 when any run broke a rule.

Usage: .venv/bin/python -m bench.chaos [--runs 3] [--seed N] [--kills 10]

It restarts the shared apiserver: do not run it while other tests use the testbed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import uuid
from pathlib import Path

from bench.harness import connect
from tests.support.chaos import ChaosPlan, ChaosReport, run_chaos, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None, help="seed of the first run")
    parser.add_argument("--kills", type=int, default=10, help="operator SIGKILLs per run")
    args = parser.parse_args()

    cluster = connect()
    first = args.seed if args.seed is not None else random.randrange(2**32)
    logs = Path(tempfile.mkdtemp(prefix="ramp-bench-chaos-"))
    reports: list[ChaosReport] = []
    print(
        f"{'run':>3} {'seed':>10} {'kills':>5} {'restarts':>8} {'recovery s':>10} "
        f"{'violations':>10} {'edits':>5} {'late':>4} {'max lag s':>9} "
        f"{'steady':>10} {'breach':>10}",
        flush=True,
    )
    for run in range(args.runs):
        namespace = f"bench-chaos-{uuid.uuid4().hex[:6]}"
        cluster.core.create_namespace({"metadata": {"name": namespace}})
        try:
            plan = ChaosPlan(seed=first + run, kills=args.kills)
            report = run_chaos(cluster, namespace, logs / f"{namespace}-operator.log", plan)
        finally:
            cluster.core.delete_namespace(namespace, propagation_policy="Background")
        reports.append(report)
        recovery = "-" if report.apiserver_recovery is None else f"{report.apiserver_recovery:.2f}"
        lag = "-" if report.max_decision_lag is None else f"{report.max_decision_lag:.2f}"
        print(
            f"{run + 1:>3} {plan.seed:>10} {report.kills:>5} {report.restarts_survived:>8} "
            f"{recovery:>10} {len(report.problems()):>10} "
            f"{report.edits:>5} {report.edits_late:>4} {lag:>9} "
            f"{report.outcomes.get('steady')!s:>10} {report.outcomes.get('breach')!s:>10}",
            flush=True,
        )
        for problem in report.problems():
            print(f"    {problem}", flush=True)
    print()
    for figure, value in summary(reports).items():
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{figure:>28}: {shown}")
    print(f"{'operator logs':>28}: {logs}")
    return 1 if any(r.problems() for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
