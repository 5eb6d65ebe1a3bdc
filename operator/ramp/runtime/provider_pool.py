"""The Prometheus clients the operator keeps between reconciles, and the rules for making one.

A Rollout's author chooses `spec.analysis.prometheus`; the operator's admin chooses where the
operator may send queries and credentials (`ramp run --prometheus-allow`). Every client is made
here, so those rules hold for every query:

- with an allow-list, an address outside it gets no request at all;
- an Authorization header read from a Secret goes only to an address the allow-list matches, so
  with no allow-list a Rollout naming an authorization Secret is refused.

Clients are reused (each holds a pooled HTTP session) and the pool is bounded: the least recently
used one is closed when a new one would exceed it. Keys hold a hash of the header, never the
header itself.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from ramp.api import RolloutSpec
from ramp.k8s.clients import Clients
from ramp.k8s.secrets import SecretValueError, read_secret_value
from ramp.metrics.allowlist import CHART_VALUE, FLAG, AllowList
from ramp.metrics.prometheus import PrometheusProvider
from ramp.metrics.provider import MetricProvider

ProviderKey = tuple[str, str, bool, float]
"""(address, SHA-256 of the Authorization header or "", insecureSkipVerify, timeout)."""


class ProviderConfigError(Exception):
    """The Rollout's Prometheus source cannot be used as written: an address outside the
    allow-list, credentials without an allow-list, or a Secret that cannot be used."""


class ProviderPool:
    """Prometheus clients by what makes them differ, at most ``capacity`` of them."""

    def __init__(
        self,
        clients: Clients,
        allow: AllowList,
        capacity: int = 16,
        *,
        reuse: float = 1.0,
        in_flight: int = 8,
    ) -> None:
        self.clients = clients
        self.allow = allow
        self.capacity = capacity
        self.reuse = reuse
        """Seconds one answer serves every Rollout asking the same query of the same server."""
        self.in_flight = in_flight
        """Queries in flight to one server at most."""
        self._providers: OrderedDict[ProviderKey, PrometheusProvider] = OrderedDict()
        # Reconciles of different Rollouts ask from different threads at once.
        self._lock = threading.Lock()

    def provider_for(self, namespace: str, spec: RolloutSpec) -> PrometheusProvider:
        """The client for the Rollout's `spec.analysis.prometheus`; ProviderConfigError when the
        rules above refuse it or its Secret cannot be used (then nothing was sent)."""
        if spec.analysis is None:
            raise ProviderConfigError("spec.analysis is not set; there is nothing to query")
        prometheus = spec.analysis.prometheus
        address = prometheus.address
        if self.allow:
            refusal = self.allow.refusal(address)
            if refusal is not None:
                raise ProviderConfigError(refusal)
        headers: dict[str, str] = {}
        if prometheus.authorization is not None:
            if not self.allow:
                raise ProviderConfigError(
                    "spec.analysis.prometheus.authorization: this operator sends credentials "
                    f"only to addresses its admin allowed, and it has no allow-list ({FLAG}, "
                    f"chart value {CHART_VALUE}); ask the admin to allow {address}, or query "
                    "without authorization"
                )
            try:
                headers["Authorization"] = read_secret_value(
                    self.clients, namespace, prometheus.authorization.secret_ref
                )
            except SecretValueError as e:
                raise ProviderConfigError(
                    f"spec.analysis.prometheus.authorization.secretRef: {e}"
                ) from e
        header_hash = (
            hashlib.sha256(headers["Authorization"].encode()).hexdigest() if headers else ""
        )
        insecure = prometheus.insecure_skip_verify
        key = (address, header_hash, insecure, prometheus.timeout_seconds)
        with self._lock:
            provider = self._providers.get(key)
            if provider is not None:
                self._providers.move_to_end(key)
                return provider
            provider = PrometheusProvider(
                address,
                timeout=prometheus.timeout_seconds,
                headers=headers,
                insecure_skip_verify=insecure,
                reuse=self.reuse,
                in_flight=self.in_flight,
            )
            self._providers[key] = provider
            evicted = (
                self._providers.popitem(last=False)[1]
                if len(self._providers) > self.capacity
                else None
            )
        if evicted is not None:
            evicted.close()
        return provider

    def holds(self, provider: MetricProvider) -> bool:
        """Whether ``provider`` is still in the pool (not closed to make room for another)."""
        with self._lock:
            return any(p is provider for p in self._providers.values())

    def __len__(self) -> int:
        return len(self._providers)

    def close(self) -> None:
        """Close every client's session (at shutdown)."""
        with self._lock:
            providers = list(self._providers.values())
            self._providers.clear()
        for provider in providers:
            provider.close()
