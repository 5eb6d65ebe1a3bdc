"""How fast Ramp reacts, and how quiet it is when nothing happens.

Runs the real operator (`python -m ramp run`) against the local control plane (`make cluster`)
in a namespace of its own, and prints:

- the latency from a change to the ConfigMap AND the status reflecting it, p50 and p99, with 1
  and with N (default 200) active rollouts in the namespace. The changes are:
    * spec edit of a phase percentage (the ConfigMap publishes it, status.percentage and
      status.observedGeneration follow);
    * spec.enabled toggled false/true (ConfigMap 0 % / back, status Disabled / back);
    * `ramp promote` (the status.control patch the CLI writes; the ConfigMap publishes the next
      phase, status.currentPhase moves);
    * `ramp pause` / `ramp resume` (status.control; status.phase Paused / back; the ConfigMap
      does not change by design, and the bench checks that it stays put);
- the number of API writes the operator makes in 60 idle seconds with every rollout settled
  (all AwaitingApproval on a Manual gate), read from its /metrics counter ramp_api_writes_total.

Each latency runs from just before the write of the change (the CLI's own read and Event are not
counted) to the first poll (every ~10 ms) that sees both the ConfigMap and the status reflect
it. Targets: p50 <= 250 ms, p99 <= 1 s, 0 idle writes.

Usage: .venv/bin/python -m bench.reaction [--quick] [--rollouts 200] [--samples 30] [--idle 60]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client

from bench.harness import connect, start_operator, wait
from ramp.engine.actions import plan_action

GROUP, VERSION, PLURAL = "ramp.dev", "v1alpha1", "rollouts"
KEY = "PERCENTAGE"
POLL = 0.01
DEADLINE = 15.0
TARGET_P50, TARGET_P99 = 250.0, 1000.0


def manifest(name: str, percentage: float = 10) -> dict[str, Any]:
    """Settles AwaitingApproval on a Manual gate; promoted, it soaks an hour on a Manual phase."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "enabled": True,
            "flag": {
                "key": name,
                "configMap": f"{name}-flag",
                "env": {"enabled": "ENABLED", "percentage": KEY},
            },
            "phases": [
                {"name": "gate", "percentage": percentage, "approval": "Manual"},
                {"name": "next", "percentage": 50, "approval": "Manual", "duration": "1h"},
                {"name": "last", "percentage": 100},
            ],
        },
    }


class Bench:
    def __init__(self, log_dir: Path) -> None:
        cluster = connect()
        self.api = cluster.api
        self.core = cluster.core
        self.custom = cluster.custom
        self.namespace = f"bench-reaction-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace({"metadata": {"name": self.namespace}})
        self.log = log_dir / f"{self.namespace}-operator.log"
        self.operator = start_operator(cluster, self.namespace, self.log)

    def close(self) -> None:
        self.operator.stop()
        self.core.delete_namespace(self.namespace, propagation_policy="Background")
        self.api.close()

    # -- reading --------------------------------------------------------------------------

    def get(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return obj

    def status(self, name: str) -> dict[str, Any]:
        return self.get(name).get("status") or {}

    def published(self, name: str) -> str | None:
        try:
            cm = self.core.read_namespaced_config_map(f"{name}-flag", self.namespace)
        except client.ApiException:
            return None
        return (cm.data or {}).get(KEY)

    def observe(
        self,
        name: str,
        start: float,
        configmap: Callable[[str | None], bool],
        status: Callable[[dict[str, Any]], bool],
        what: str,
    ) -> float:
        """Seconds from ``start`` until one poll saw both the ConfigMap and the status agree."""
        deadline = start + DEADLINE
        while time.perf_counter() < deadline:
            if configmap(self.published(name)) and status(self.status(name)):
                return time.perf_counter() - start
            time.sleep(POLL)
        raise TimeoutError(f"{name}: no {what} within {DEADLINE:.0f}s")

    def writes(self) -> tuple[float, float]:
        """(ramp_api_writes_total summed over kinds, reconciles done) from /metrics."""
        text = self.operator.metrics()
        writes = sum(
            float(v) for v in re.findall(r"^ramp_api_writes_total(?:\{[^}]*\})? (\S+)$", text, re.M)
        )
        reconciles = sum(
            float(v)
            for v in re.findall(
                r"^ramp_reconcile_duration_seconds_count(?:\{[^}]*\})? (\S+)$", text, re.M
            )
        )
        return writes, reconciles

    def versions(self) -> dict[str, str]:
        """resourceVersion of every Rollout, ConfigMap and Event in the namespace: an outside
        check of the operator's own write counter (which does not count Events)."""
        seen = {}
        for item in self.custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL
        )["items"]:
            seen[f"Rollout/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
        for cm in self.core.list_namespaced_config_map(self.namespace).items:
            seen[f"ConfigMap/{cm.metadata.name}"] = cm.metadata.resource_version
        for event in self.core.list_namespaced_event(self.namespace).items:
            seen[f"Event/{event.metadata.name}"] = event.metadata.resource_version
        return seen

    # -- changing -------------------------------------------------------------------------

    def create(self, name: str) -> None:
        self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, manifest(name)
        )

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def awaiting(self, name: str) -> bool:
        try:
            return self.status(name).get("phase") == "AwaitingApproval"
        except client.ApiException:
            return False

    def patch_spec(self, name: str, patch: dict[str, Any]) -> tuple[float, int]:
        start = time.perf_counter()
        updated = self.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
            {"spec": patch},
            _content_type="application/merge-patch+json",
        )
        return start, int(updated["metadata"]["generation"])

    def act(self, name: str, action: Any) -> float:
        """What `ramp <action>` writes: the status.control merge patch planned by the CLI."""
        plan = plan_action(action, name, self.status(name), datetime.now(UTC))
        assert plan.control_patch, f"{action} of {name} has nothing to write"
        start = time.perf_counter()
        self.custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
            {"status": {"control": plan.control_patch}},
            _content_type="application/merge-patch+json",
        )
        return start

    # -- the measured changes -------------------------------------------------------------

    def edit_percentage(self, name: str, percentage: float) -> float:
        phases = self.get(name)["spec"]["phases"]
        phases[0]["percentage"] = percentage
        start, generation = self.patch_spec(name, {"phases": phases})
        return self.observe(
            name,
            start,
            lambda cm: cm == f"{percentage:g}",
            lambda s: (
                s.get("observedGeneration") == generation and s.get("percentage") == percentage
            ),
            f"publication of {percentage:g} %",
        )

    def toggle_enabled(self, name: str, enabled: bool) -> float:
        before = self.status(name)
        start, generation = self.patch_spec(name, {"enabled": enabled})
        if enabled:
            return self.observe(
                name,
                start,
                lambda cm: cm not in (None, "0"),
                lambda s: (
                    s.get("observedGeneration") == generation
                    and s.get("phase") == "AwaitingApproval"
                ),
                "re-enabling",
            )
        assert before.get("phase") == "AwaitingApproval", before
        return self.observe(
            name,
            start,
            lambda cm: cm == "0",
            lambda s: s.get("observedGeneration") == generation and s.get("phase") == "Disabled",
            "disabling",
        )

    def pause_resume(self, name: str, pause: bool) -> float:
        published = self.published(name)
        start = self.act(name, "pause" if pause else "resume")
        want = "Paused" if pause else "AwaitingApproval"
        return self.observe(
            name,
            start,
            lambda cm: cm == published,
            lambda s: s.get("phase") == want,
            f"status.phase {want}",
        )

    def promote(self, name: str) -> float:
        start = self.act(name, "promote")
        return self.observe(
            name,
            start,
            lambda cm: cm == "50",
            lambda s: s.get("currentPhase") == "next" and s.get("percentage") == 50,
            "promotion to the next phase",
        )


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99 (nearest rank) and max, in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, max(0, -(-99 * len(ordered) // 100) - 1))]
    return statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000


Row = tuple[str, str, int, float, float, float]


class Subject:
    """The rollout the changes are made to; a fresh one (new name) after each promotion."""

    def __init__(self, bench: Bench, prefix: str) -> None:
        self.bench, self.prefix, self.count = bench, prefix, 0
        self.name = ""
        self.renew()

    def renew(self) -> None:
        old = self.name
        self.count += 1
        self.name = f"{self.prefix}-{self.count}"
        self.bench.create(self.name)
        if old:
            self.bench.delete(old)
        wait(lambda: self.bench.awaiting(self.name), 60, f"{self.name} to await approval")


def measure(bench: Bench, label: str, samples: int, rows: list[Row]) -> None:
    subject = Subject(bench, f"subject-{label.split()[0]}")
    settle = 0.2  # let the echoes of the previous change pass

    def run(change: str, one: Callable[[int], float]) -> None:
        got = []
        for i in range(samples):
            time.sleep(settle)
            got.append(one(i))
        rows.append((label, change, len(got), *percentiles(got)))
        p50, p99, _ = percentiles(got)
        print(f"  {label:<13} {change:<22} p50 {p50:6.0f} ms  p99 {p99:6.0f} ms", flush=True)

    run("spec: phase %", lambda i: bench.edit_percentage(subject.name, 11 if i % 2 == 0 else 10))
    run("spec: enabled", lambda i: bench.toggle_enabled(subject.name, i % 2 == 1))
    run("ramp pause / resume", lambda i: bench.pause_resume(subject.name, i % 2 == 0))

    def promote(_: int) -> float:
        seconds = bench.promote(subject.name)
        subject.renew()
        return seconds

    run("ramp promote", promote)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=200, help="the loaded level")
    parser.add_argument("--samples", type=int, default=None, help="per change and level (30)")
    parser.add_argument("--idle", type=float, default=None, help="idle seconds counted (60)")
    parser.add_argument("--quick", action="store_true", help="8 samples, 20 idle seconds")
    args = parser.parse_args()
    samples = args.samples or (8 if args.quick else 30)
    if samples % 2:
        # Each change is made and undone in turn (enabled false/true, pause/resume): an odd
        # count would leave the subject disabled or paused for the next kind of change.
        parser.error(f"--samples must be even, not {samples}")
    idle = args.idle if args.idle is not None else (20.0 if args.quick else 60.0)

    log_dir = Path(tempfile.mkdtemp(prefix="ramp-bench-"))
    began = time.perf_counter()
    bench = Bench(log_dir)
    rows: list[Row] = []
    print(f"namespace {bench.namespace}, operator log {bench.log}", flush=True)
    try:
        measure(bench, "1 rollout", samples, rows)

        load = args.rollouts - 1
        t0 = time.perf_counter()
        for i in range(load):
            bench.create(f"load-{i}")

        def settled() -> bool:
            items = bench.custom.list_namespaced_custom_object(
                GROUP, VERSION, bench.namespace, PLURAL
            )["items"]
            return (
                sum(
                    (item.get("status") or {}).get("phase") == "AwaitingApproval"
                    for item in items
                    if item["metadata"]["name"].startswith("load-")
                )
                == load
            )

        wait(settled, 300, f"{load} more rollouts to settle", poll=0.5)
        print(
            f"  {load} more rollouts created and settled in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        measure(bench, f"{args.rollouts} rollouts", samples, rows)

        # Every rollout is now AwaitingApproval on a Manual gate: nothing should be written.
        time.sleep(2)  # let the last echoes of the measurements pass before counting
        writes0, reconciles0 = bench.writes()
        versions0 = bench.versions()
        time.sleep(idle)
        writes1, reconciles1 = bench.writes()
        versions1 = bench.versions()
        idle_writes, idle_reconciles = writes1 - writes0, reconciles1 - reconciles0
        changed = sorted(
            k for k in versions0.keys() | versions1.keys() if versions0.get(k) != versions1.get(k)
        )
    finally:
        bench.close()

    print(f"\nRamp reaction latency (operator log: {bench.log})\n")
    print(f"{'active':<14} {'change':<22} {'n':>3} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  met")
    met_all = True
    for label, change, n, p50, p99, top in rows:
        met = p50 <= TARGET_P50 and p99 <= TARGET_P99
        met_all &= met
        print(
            f"{label:<14} {change:<22} {n:>3} {p50:>8.0f} {p99:>8.0f} {top:>8.0f}  "
            f"{'yes' if met else 'NO'}"
        )
    print(
        f"\nAPI writes in {idle:.0f} idle seconds with {args.rollouts} settled rollouts: "
        f"{idle_writes:.0f} ({idle_reconciles:.0f} reconciles ran meanwhile)"
    )
    print(
        f"objects changed meanwhile (Rollouts, ConfigMaps, Events): {len(changed)}"
        + (f" e.g. {', '.join(changed[:5])}" if changed else "")
    )
    print(
        f"targets: p50 <= {TARGET_P50:.0f} ms, p99 <= {TARGET_P99:.0f} ms, 0 idle writes "
        f"-> {'met' if met_all and idle_writes == 0 else 'NOT met'}"
    )
    print(f"total {time.perf_counter() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
