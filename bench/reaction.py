"""How fast Ramp reacts, and how quiet it is when nothing happens.

Runs the real operator against the local control plane (`make cluster`) and prints:
- the latency from a change (a `ramp promote` written to status.control, or a spec edit) to the
  ConfigMap and the status reflecting it, p50 and p99, with 1 and with 200 active rollouts;
- the API writes the operator makes in 60 idle seconds with 200 rollouts (target: 0).

Usage: .venv/bin/python bench/reaction.py [--rollouts 200] [--samples 30] [--idle 60]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("RAMP_TESTBED_DIR", ROOT / ".testbed"))
GROUP, VERSION, PLURAL = "ramp.dev", "v1alpha1", "rollouts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(predicate: Any, timeout: float, what: str, poll: float = 0.002) -> float:
    """Poll until true; return the time it became true (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return time.perf_counter()
        time.sleep(poll)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


def manifest(name: str, percentage: float) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "flag": {
                "key": name,
                "configMap": f"{name}-flag",
                "env": {"percentage": "PERCENTAGE"},
            },
            "phases": [
                {"name": "gate", "percentage": percentage, "approval": "Manual"},
                {"name": "next", "percentage": 100, "approval": "Manual", "duration": "1h"},
                {"name": "last", "percentage": 100},
            ],
        },
    }


class Bench:
    def __init__(self) -> None:
        config.load_kube_config(str(STATE / "kubeconfig"))
        self.core = client.CoreV1Api()
        self.custom = client.CustomObjectsApi()
        self.namespace = f"bench-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace({"metadata": {"name": self.namespace}})
        self.health, self.metrics = free_port(), free_port()
        self.log = STATE / "logs" / f"{self.namespace}-operator.log"
        env = {**os.environ, "KUBECONFIG": str(STATE / "kubeconfig")}
        args = [sys.executable, "-m", "ramp", "run", "--namespace", self.namespace]
        args += ["--health-port", str(self.health), "--metrics-port", str(self.metrics)]
        args += ["--bind-address", "127.0.0.1"]
        with open(self.log, "wb") as out:
            self.operator = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        wait(self._healthy, 60, "the operator's /healthz", poll=0.1)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health}/healthz", timeout=1):
                return True
        except OSError:
            return False

    def close(self) -> None:
        self.operator.terminate()
        self.operator.wait(timeout=30)
        self.core.delete_namespace(self.namespace)

    def status(self, name: str) -> dict[str, Any]:
        obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
        return obj.get("status") or {}

    def published(self, name: str) -> str | None:
        try:
            cm = self.core.read_namespaced_config_map(f"{name}-flag", self.namespace)
        except client.ApiException:
            return None
        return (cm.data or {}).get("PERCENTAGE")

    def create(self, name: str, percentage: float = 10) -> None:
        self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, manifest(name, percentage)
        )

    def awaiting(self, name: str) -> bool:
        return self.status(name).get("phase") == "AwaitingApproval"

    def spec_edit(self, name: str, percentage: float) -> float:
        """Seconds from a spec edit to the ConfigMap and status reflecting it."""
        obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
        phases = obj["spec"]["phases"]
        phases[0]["percentage"] = percentage
        start = time.perf_counter()
        updated = self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, {"spec": {"phases": phases}}
        )
        generation = updated["metadata"]["generation"]
        text = f"{percentage:g}"
        wait(lambda: self.published(name) == text, 10, f"{name} to publish {text}")
        end = wait(
            lambda: (
                self.status(name).get("observedGeneration") == generation
                and self.status(name).get("percentage") == percentage
            ),
            10,
            f"{name} status to reflect generation {generation}",
        )
        return end - start

    def promote(self, name: str) -> float:
        """Seconds from `ramp promote` (a status.control patch) to ConfigMap and status."""
        start = time.perf_counter()
        self.custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
            {"status": {"control": {"promote": {"phaseIndex": 0, "full": False}}}},
        )
        wait(lambda: self.published(name) == "100", 10, f"{name} to publish 100")
        end = wait(
            lambda: self.status(name).get("currentPhase") == "next", 10, f"{name} to promote"
        )
        return end - start

    def writes(self) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=5) as r:
            text = r.read().decode()
        return sum(
            float(v) for v in re.findall(r"^ramp_api_writes_total\{[^}]*\} (\S+)$", text, re.M)
        )


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return p50 * 1000, p99 * 1000


def measure(
    bench: Bench, label: str, samples: int, rows: list[tuple[str, str, float, float]]
) -> None:
    edits = []
    for i in range(samples):
        edits.append(bench.spec_edit("subject", 10 + (i % 2)))
    promotes = []
    for i in range(samples):
        name = f"promote-{label}-{i}"
        bench.create(name)
        wait(lambda n=name: bench.awaiting(n), 30, f"{name} to await approval", poll=0.02)
        promotes.append(bench.promote(name))
    rows.append((label, "spec edit", *percentiles(edits)))
    rows.append((label, "ramp promote", *percentiles(promotes)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=200)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()

    subprocess.run([sys.executable, str(ROOT / "testbed" / "cluster.py"), "up"], check=True)
    subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(STATE / "kubeconfig"),
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            str(ROOT / "crds" / "ramp.dev_rollouts.yaml"),
        ],
        check=True,
        capture_output=True,
    )
    bench = Bench()
    rows: list[tuple[str, str, float, float]] = []
    try:
        bench.create("subject")
        wait(lambda: bench.awaiting("subject"), 30, "the subject rollout to settle", poll=0.02)
        measure(bench, "1 rollout", args.samples, rows)

        for i in range(args.rollouts - 1):
            bench.create(f"load-{i}")
        wait(
            lambda: all(
                (item.get("status") or {}).get("phase") == "AwaitingApproval"
                for item in bench.custom.list_namespaced_custom_object(
                    GROUP, VERSION, bench.namespace, PLURAL
                )["items"]
                if item["metadata"]["name"].startswith("load-")
            ),
            300,
            f"{args.rollouts} rollouts to settle",
            poll=0.5,
        )
        measure(bench, f"{args.rollouts} rollouts", args.samples, rows)

        time.sleep(2)  # let the last echoes of the measurements pass before counting
        before = bench.writes()
        time.sleep(args.idle)
        idle_writes = bench.writes() - before
    finally:
        bench.close()

    print(f"\nRamp reaction latency (operator log: {bench.log})\n")
    print(f"{'active':<14} {'change':<14} {'p50 ms':>8} {'p99 ms':>8}")
    for label, change, p50, p99 in rows:
        print(f"{label:<14} {change:<14} {p50:>8.0f} {p99:>8.0f}")
    print(
        f"\nAPI writes in {args.idle:.0f} idle seconds with {args.rollouts} rollouts: "
        f"{idle_writes:.0f}"
    )
    print("targets: p50 <= 250 ms, p99 <= 1000 ms, 0 idle writes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
