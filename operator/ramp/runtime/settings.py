"""How the operator runs: every knob with what it means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from ramp.k8s.clients import DEFAULT_API_TIMEOUT


@dataclass(frozen=True)
class LeaderElectionSettings:
    """Where the leader Lease lives and how it is timed (controller-runtime's defaults)."""

    lease_namespace: str
    """Namespace of the coordination.k8s.io/v1 Lease all replicas campaign for."""

    lease_name: str = "ramp-operator"
    """Name of that Lease; `kubectl get lease` shows its holder."""

    lease_duration: float = 15.0
    """Seconds a standby waits after it last saw the leader renew (on its own monotonic clock)
    before taking the lease: how long a crashed leader's rollouts wait (a leader that stops
    gracefully releases at once)."""

    renew_deadline: float = 10.0
    """Seconds the leader keeps trying to renew before it stops all work; shorter than
    lease_duration, so it has stopped before anyone else can take over."""

    retry_period: float = 2.0
    """Seconds between tries to take (standby) or renew (leader) the lease."""

    @classmethod
    def scaled(cls, lease_namespace: str, lease_name: str, lease_duration: float) -> Self:
        """Timing for another lease duration, keeping controller-runtime's 15 : 10 : 2."""
        return cls(
            lease_namespace=lease_namespace,
            lease_name=lease_name,
            lease_duration=lease_duration,
            renew_deadline=lease_duration * 10 / 15,
            retry_period=lease_duration * 2 / 15,
        )


@dataclass(frozen=True)
class OperatorSettings:
    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty means all namespaces (cluster-wide)."""

    health_port: int = 8080
    """Port of the liveness endpoint, GET /healthz."""

    metrics_port: int = 8081
    """Port of the operator's own Prometheus metrics, GET /metrics; 0 disables them. Not
    9090, Prometheus's own port, which a laptop run next to a local Prometheus would meet."""

    bind_address: str = "0.0.0.0"
    """Address the health and metrics endpoints listen on."""

    leader_election: LeaderElectionSettings | None = None
    """Lease-based leader election among replicas; None: this operator leads alone, always."""

    resync_interval: float = 60.0
    """Seconds after which a rollout that nothing woke is reconciled anyway, to heal drift."""

    min_interval: float = 0.05
    """Shortest pause between two reconciles of one rollout, so a burst of events coalesces."""

    retry_backoff: float = 2.0
    """Seconds before reconciling again after an unexpected error (doubling up to resync)."""

    api_threads: int = 32
    """Threads for blocking Kubernetes API calls; bounds concurrent reconciles' I/O."""

    api_timeout: float = DEFAULT_API_TIMEOUT
    """Seconds one Kubernetes API request may take before it fails (and its reconcile is tried
    again), so a hung request cannot hold a Rollout's loop while the Lease keeps renewing. A
    leader's writes get no longer than its renew deadline leaves. Kopf's watch streams
    long-poll on their own settings and are not bound by it."""

    reconciles_in_flight: int = 64
    """Reconciles running at once; more wait, those woken by a change before those woken by
    their own timer. Bounds what a burst (thousands of Rollouts created together, or all of
    them when the operator starts to lead) holds in memory at once."""

    notification_attempts: int = 5
    """Deliveries tried per webhook notification before it is dropped (with a logged error)."""

    prometheus_allow: tuple[str, ...] = ()
    """Prometheus addresses Rollouts may query: exact base URLs, or prefixes ending in `*`.
    Empty: any address, but never with an Authorization header from a Secret (credentials go
    only to addresses listed here). When set, other addresses get no request at all."""

    webhook_allow: tuple[str, ...] = ()
    """Webhook URLs Rollouts' notifications may be sent to: exact URLs, or prefixes ending in
    `*` (`https://hooks.slack.com/services/*`), as for prometheus_allow. Empty: no webhook is
    sent at all, and a Rollout whose spec.notifications names one gets a NotificationRefused
    Event. A URL no pattern allows gets no request."""

    query_reuse: float = 1.0
    """Seconds one Prometheus answer serves every Rollout asking the same query of the same
    server: a burst of identical queries sends one request. Keep it under the scrape
    interval, where a newer answer could not differ anyway."""

    queries_in_flight: int = 8
    """Queries in flight to one Prometheus server at most; a burst of due analyses (every
    Rollout right after a restart) queues behind these instead of stampeding the server."""

    status_refresh: float = 300.0
    """Seconds the stored status may keep an earlier analysis's readings while every analysis
    since found the same (same verdicts, no window opened, no transition): those stay in
    memory, and the status is written when anything changes or the stored readings get this
    old. 0 writes every analysis."""

    config_map_trust: float = 600.0
    """Seconds a flag ConfigMap as the watch delivered it is decided on without reading it
    again. The watch keeps it current; a watch that restarts after a long outage may miss a
    deletion, so it is read again at least this often."""
