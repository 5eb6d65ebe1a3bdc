"""Decisions per second: ``ramp.flags`` against OpenFeature's flagd provider in file mode.

Both read the same flags.json (written by ``ramp.k8s.flagd.render_flags_json``) and decide for
the same targeting keys; the script also checks that they agree on every decision it made.
``--audience-values N`` adds two audiences of N values each ahead of the percentage (one on the
targeting key, one on an ``account`` attribute every context carries; one key in ten is a
member of one of them).

Then the dual-run helper's own overhead per call (``ramp.flags.DualRun``, its decorator and
``Fallback``), besides the two implementations: each case calls implementations that return at
once, and the figure is its time per call minus that of calling the served implementation
directly. Best of ``--repeat`` runs, so other processes on the machine count least.

    .venv/bin/python -m bench.flags [--n 100000] [--provider-n 100000] [--percentage 25]
    .venv/bin/python -m bench.flags --audience-values 1000
    .venv/bin/python -m bench.flags --dual-run-only [--dual-run-n 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from openfeature import api
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.evaluation_context import EvaluationContext
from prometheus_client import CollectorRegistry

from ramp.flags import PYTHON_PROVIDER_CBOR, DualRun, Fallback, FlagFile, bucket, dual_run
from ramp.k8s.flagd import AudienceRule, render_flags_json

FLAG = "async-reports"


def keys(count: int) -> list[str]:
    rnd = random.Random(7)
    return [f"user-{rnd.getrandbits(48):012x}" for _ in range(count)]


def audiences(count: int) -> tuple[AudienceRule, ...]:
    """Two audiences of ``count`` values: beta users by targeting key, accounts by attribute."""
    users = tuple(f"user-{i:012x}" for i in range(count))
    accounts = tuple(f"acct-{i}" for i in range(count))
    return (
        ("beta", "targetingKey", "in", users),
        ("accounts", "account", "in", accounts),
    )


def attributes_of(targeting_keys: list[str], count: int) -> dict[str, dict[str, str]]:
    """An ``account`` for every key: one in twenty in the accounts audience when it has values."""
    rnd = random.Random(11)
    found = {}
    for key in targeting_keys:
        member = count and rnd.random() < 0.05
        found[key] = {"account": f"acct-{rnd.randrange(count)}" if member else "acct-other"}
    return found


def run(decide: Callable[[str], bool], targeting_keys: list[str], n: int) -> tuple[float, int]:
    """Seconds for ``n`` decisions cycling over ``targeting_keys``, and how many were on."""
    m = len(targeting_keys)
    on = 0
    start = time.perf_counter()
    for i in range(n):
        on += decide(targeting_keys[i % m])
    return time.perf_counter() - start, on


OVERHEAD_GOAL_US = 5.0
"""What the dual-run helper may add per call, besides the two implementations."""


def best_of(
    call: Callable[[str, int], object], targeting_keys: list[str], n: int, repeat: int
) -> tuple[float, float]:
    """Microseconds per call of ``call(key, i)``, the fastest of ``repeat`` runs of ``n``: in
    CPU time of the process (every thread, so a compared call's other side counts; time spent
    preempted by other processes does not) and in wall time (what the caller waits)."""
    m = len(targeting_keys)
    cpu = wall = float("inf")
    for _ in range(repeat):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        for i in range(n):
            call(targeting_keys[i % m], i)
        cpu = min(cpu, (time.process_time() - start_cpu) / n)
        wall = min(wall, (time.perf_counter() - start_wall) / n)
    return cpu * 1e6, wall * 1e6


def capture(measure: Callable[[], bool]) -> tuple[bool, str]:
    """What ``measure`` returns and prints, to print it after the decision table."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = measure()
    return result, out.getvalue()


def measure_dual_run(flags: FlagFile, targeting_keys: list[str], n: int, repeat: int) -> bool:
    """Print the helper's overhead per call; True if every case without a comparison on each
    call (sampling 0 % and 1 %) stays within :data:`OVERHEAD_GOAL_US`."""

    def legacy(x: int) -> int:
        return x

    def new(x: int) -> int:
        return x

    registry = CollectorRegistry()
    helpers = {
        rate: DualRun(flags, FLAG, sample_rate=rate, registry=registry) for rate in (0, 0.01, 1)
    }
    decorated = {
        rate: dual_run(
            flags,
            FLAG,
            legacy=lambda key, x: x,
            targeting_key=lambda key, x: key,
            sample_rate=rate,
            registry=registry,
        )(lambda key, x: x)
        for rate in (0, 0.01)
    }
    fallback = Fallback(flags, FLAG, registry=registry)
    cases: list[tuple[str, Callable[[str, int], object], int, bool]] = [
        ("served implementation called directly", lambda k, i: new(i), n, False),
        (
            "hand-written `if flags.is_enabled(...)`",
            lambda k, i: new(i) if flags.is_enabled(FLAG, k) else legacy(i),
            n,
            False,
        ),
        ("DualRun.run, sampling 0 %", lambda k, i: helpers[0].run(k, legacy, new, i), n, True),
        ("DualRun.run, sampling 1 %", lambda k, i: helpers[0.01].run(k, legacy, new, i), n, True),
        ("@dual_run decorator, sampling 0 %", decorated[0], n, True),
        ("@dual_run decorator, sampling 1 %", decorated[0.01], n, True),
        ("Fallback.run (new side succeeds)", lambda k, i: fallback.run(k, legacy, new, i), n, True),
        (
            "DualRun.run, sampling 100 % (every call compared)",
            lambda k, i: helpers[1].run(k, legacy, new, i),
            max(1000, n // 50),
            False,
        ),
    ]
    figures = [
        (name, *best_of(call, targeting_keys, calls, repeat), goal)
        for name, call, calls, goal in cases
    ]
    direct, by_hand = figures[0][1], figures[1][1]
    print()
    print(
        f"dual-run helper: implementations that return at once, best of {repeat} runs "
        f"(goal: at most {OVERHEAD_GOAL_US:g} us of CPU overhead without a comparison on each "
        "call)"
    )
    header = (
        f"{'case':<52} {'CPU us/call':>11} {'overhead us':>12} {'beyond the if':>14} "
        f"{'wall us/call':>13}"
    )
    print(header)
    print("-" * len(header))
    within = True
    for name, cpu, wall, goal in figures:
        overhead = cpu - direct
        mark = ""
        if goal:
            ok = overhead <= OVERHEAD_GOAL_US
            within = within and ok
            mark = "   within the goal" if ok else "   OVER THE GOAL"
        print(
            f"{name:<52} {cpu:>11.2f} {overhead:>12.2f} {cpu - by_hand:>14.2f} {wall:>13.2f}{mark}"
        )
    print(
        "overhead: CPU time per call minus calling the served implementation directly, so it "
        "includes the flag decision; beyond the if: minus the hand-written `if`; wall: what "
        "the caller waits, other processes' load included"
    )
    return within


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="evaluations for ramp.flags")
    parser.add_argument(
        "--provider-n", type=int, default=100_000, help="evaluations for the flagd provider"
    )
    parser.add_argument("--percentage", type=float, default=25.0)
    parser.add_argument("--keys", type=int, default=10_000, help="distinct targeting keys")
    parser.add_argument(
        "--dual-run-n", type=int, default=200_000, help="calls per run of each dual-run case"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per dual-run case")
    parser.add_argument(
        "--dual-run-only", action="store_true", help="measure only the dual-run helper"
    )
    parser.add_argument(
        "--audience-values",
        type=int,
        default=0,
        help="two audiences of this many values each ahead of the percentage (0: none)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    count = args.audience_values
    targeting_keys = keys(args.keys)
    if count:
        # One key in twenty is a beta user by targeting key (and one in twenty by account).
        targeting_keys[::20] = [f"user-{i % count:012x}" for i in range(len(targeting_keys[::20]))]
    attributes = attributes_of(targeting_keys, count)
    with tempfile.TemporaryDirectory(prefix="ramp-bench-") as tmp:
        path = Path(tmp) / "flags.json"
        # The provider 0.6.1 scheme: the one both readers implement.
        flags_json = render_flags_json(
            FLAG, True, args.percentage, PYTHON_PROVIDER_CBOR, audiences=audiences(count)
        )
        path.write_text(flags_json, encoding="utf-8")

        flags = FlagFile(path)
        if args.dual_run_only:
            print(f"Python {platform.python_version()} on {platform.machine()}")
            within = measure_dual_run(flags, targeting_keys, args.dual_run_n, args.repeat)
            return 0 if within else 1
        provider = FlagdProvider(
            resolver_type=ResolverType.FILE, offline_flag_source_path=str(path)
        )
        api.set_provider_and_wait(provider, "ramp-bench")
        client = api.get_client("ramp-bench")
        contexts = {
            key: EvaluationContext(targeting_key=key, attributes=attributes[key] if count else {})
            for key in targeting_keys
        }
        try:
            candidates: list[tuple[str, Callable[[str], bool], int]] = [
                (
                    "ramp.flags FlagFile.is_enabled",
                    lambda k: flags.is_enabled(FLAG, k, attributes[k] if count else None),
                    args.n,
                ),
                (
                    "ramp.flags bucket() < weight",
                    lambda k: bucket(FLAG, k) < round(args.percentage * 100),
                    args.n,
                ),
                (
                    "flagd provider via SDK client",
                    lambda k: client.get_boolean_value(FLAG, False, contexts[k]),
                    args.provider_n,
                ),
                (
                    "flagd provider resolve_boolean_details",
                    lambda k: provider.resolve_boolean_details(FLAG, False, contexts[k]).value,
                    args.provider_n,
                ),
            ]
            for _, decide, _ in candidates:  # warm up
                run(decide, targeting_keys, 1000)
            results = [(name, n, *run(decide, targeting_keys, n)) for name, decide, n in candidates]

            check = targeting_keys[: min(len(targeting_keys), args.provider_n)]
            disagreements = sum(
                flags.is_enabled(FLAG, k, attributes[k])
                != client.get_boolean_value(FLAG, False, contexts[k])
                for k in check
            )
        finally:
            api.shutdown()
        # Measured here, while the file exists: the provider's file watcher outlives shutdown.
        dual_run_report = capture(
            lambda: measure_dual_run(flags, targeting_keys, args.dual_run_n, args.repeat)
        )

    served = f" + two audiences of {count:,} values" if count else ""
    print(
        f"flag {FLAG!r} at {args.percentage:g}%{served}, {len(targeting_keys):,} distinct keys, "
        f"Python {platform.python_version()} on {platform.machine()}"
    )
    header = (
        f"{'implementation':<40} {'evals':>8} {'seconds':>8} {'decisions/s':>12} {'us/eval':>8}"
    )
    print(header)
    print("-" * len(header))
    base = results[0][1] / results[0][2]
    for name, n, seconds, on in results:
        rate = n / seconds
        print(
            f"{name:<40} {n:>8,} {seconds:>8.3f} {rate:>12,.0f} {1e6 / rate:>8.2f}"
            f"   ({100 * on / n:.2f}% on, {base / rate:.1f}x the time of FlagFile)"
        )
    print(f"disagreements between ramp.flags and the provider over {len(check):,} keys: ", end="")
    print(disagreements)
    within, printed = dual_run_report
    print(printed, end="")
    return 1 if disagreements or not within else 0


if __name__ == "__main__":
    sys.exit(main())
