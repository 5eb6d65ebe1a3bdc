"""Decisions per second: ``ramp.flags`` against OpenFeature's flagd provider in file mode.

Both read the same flags.json (written by ``ramp.k8s.flagd.render_flags_json``) and decide for
the same targeting keys; the script also checks that they agree on every decision it made.
``--audience-values N`` adds two audiences of N values each ahead of the percentage (one on the
targeting key, one on an ``account`` attribute every context carries; one key in ten is a
member of one of them).

    .venv/bin/python bench/flags.py [--n 100000] [--provider-n 100000] [--percentage 25]
    .venv/bin/python bench/flags.py --audience-values 1000
"""

from __future__ import annotations

import argparse
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

from ramp.flags import PYTHON_PROVIDER_CBOR, FlagFile, bucket
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="evaluations for ramp.flags")
    parser.add_argument(
        "--provider-n", type=int, default=100_000, help="evaluations for the flagd provider"
    )
    parser.add_argument("--percentage", type=float, default=25.0)
    parser.add_argument("--keys", type=int, default=10_000, help="distinct targeting keys")
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
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
