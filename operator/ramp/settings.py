"""How the operator runs: every knob with what it means."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OperatorSettings:
    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty means all namespaces (cluster-wide)."""

    health_port: int = 8080
    """Port of the liveness endpoint, GET /healthz."""

    metrics_port: int = 9090
    """Port of the operator's own Prometheus metrics, GET /metrics; 0 disables them."""

    bind_address: str = "0.0.0.0"
    """Address the health and metrics endpoints listen on."""

    peering: str | None = None
    """Kopf peering name for HA (one active replica among peers); None runs standalone."""

    priority: int | None = None
    """Kopf peering priority; None picks a random one, as peers of equal priority all pause."""

    peering_lifetime: int = 60
    """Seconds a peer stays alive without a keep-alive: how long a standby waits for a crashed
    active peer before taking over (a peer that stops gracefully leaves at once)."""

    resync_interval: float = 60.0
    """Seconds after which a rollout that nothing woke is reconciled anyway, to heal drift."""

    min_interval: float = 0.05
    """Shortest pause between two reconciles of one rollout, so a burst of events coalesces."""

    retry_backoff: float = 2.0
    """Seconds before reconciling again after an unexpected error (doubling up to resync)."""

    api_threads: int = 32
    """Threads for blocking Kubernetes API calls; bounds concurrent reconciles' I/O."""

    notification_attempts: int = 5
    """Deliveries tried per webhook notification before it is dropped (with a logged error)."""

    extra_labels: dict[str, str] = field(default_factory=dict)
    """Labels added to ConfigMaps Ramp creates (besides its own)."""
