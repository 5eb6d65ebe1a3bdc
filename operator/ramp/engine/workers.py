"""How workers are named in observations, effects and status.workerOriginals."""

from __future__ import annotations

from ramp.api.spec import WorkerRef


def worker_key(worker: WorkerRef) -> str:
    """The Deployment name, or `hpa/<name>` for an HPA-only worker."""
    return worker.deployment if worker.deployment else f"hpa/{worker.hpa}"
