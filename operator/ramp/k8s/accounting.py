"""Counting every request the operator's API client sends, by HTTP method and resource.

`ramp_api_writes_total` counts what Ramp meant to change; this counts what it cost the API
server, reads included, so "idle costs nothing" can be checked from /metrics. Kopf's own
list-and-watch streams go through its own client and are not counted here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kubernetes import client
from prometheus_client import Counter

requests = Counter(
    "ramp_api_requests_total",
    "Requests the operator sent to the Kubernetes API (besides Kopf's watches), by method and "
    "resource (leases: leader election's renewals, which go on while idle).",
    ["method", "resource"],
)


def resource_of(url: str) -> str:
    """The resource a request's URL names: `rollouts`, `configmaps`, `leases`, ..."""
    path = urlsplit(url).path.split("/")
    if "namespaces" in path:
        at = path.index("namespaces") + 2  # /namespaces/NS/RESOURCE/...
        if at < len(path):
            return path[at]
    return path[-1] if path else ""


def count_requests(api: client.ApiClient) -> None:
    """Count each request ``api`` sends from now on (once per client)."""
    rest: Any = api.rest_client  # kubernetes.client.rest is untyped
    if getattr(rest, "_ramp_counted", False):
        return
    send = rest.request

    def counted(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        requests.labels(method.upper(), resource_of(url)).inc()
        return send(method, url, *args, **kwargs)

    rest.request = counted
    rest._ramp_counted = True
