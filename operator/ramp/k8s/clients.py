"""The Kubernetes API clients the operator and the CLI share.

Every request they send is bounded in time, and a leader's writes pass a fence: both are set in
one place, `bound_requests`, below every API call (`k8s/*` need not think of either).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from kubernetes import client, config
from kubernetes.client import rest
from urllib3.util.retry import Retry

from ramp.api import GROUP, PLURAL, VERSION

DEFAULT_API_TIMEOUT = 30.0
"""Seconds one API request may take unless a setting or its caller says otherwise."""

READS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing: a fence lets them through."""


@dataclass(frozen=True)
class Clients:
    api: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def autoscaling(self) -> client.AutoscalingV2Api:
        return client.AutoscalingV2Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def get_rollout(self, namespace: str, name: str) -> dict[str, object]:
        obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        return cast(dict[str, object], obj)


def load_clients(
    kubeconfig: str | None = None, context: str | None = None, timeout: float = DEFAULT_API_TIMEOUT
) -> Clients:
    """Clients from a kubeconfig (explicit, $KUBECONFIG or ~/.kube/config) or in-cluster, each
    request bounded by ``timeout`` seconds."""
    api: client.ApiClient | None = None
    if kubeconfig is None and context is None:
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            api = client.ApiClient()
        except config.ConfigException:
            pass
    if api is None:
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context
        )
    bound_requests(api, timeout)
    return Clients(api)


class NotLeading(Exception):
    """A write refused by the fence: this operator does not hold the leader Lease (it lost it,
    released it, or could not renew it within its renew deadline)."""


class WriteFence:
    """Lets a leader's writes through only while its hold on the Lease is sure, by its own
    monotonic clock: closed until the Lease is taken, open until the renew deadline after the
    last renewal the apiserver confirmed, closed at once when the Lease is lost or released.

    Leader election opens and closes it (`ramp.runtime.leadership`); `bound_requests` asks it before
    every write. Work that was in flight when the Lease went (a reconcile in a thread, which
    cannot be cancelled) is refused here, at the write, whatever it was about to do.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = float("-inf")
        self._lock = threading.Lock()

    def open_until(self, deadline: float) -> None:
        """Let writes through until ``deadline`` (on the fence's clock)."""
        with self._lock:
            self._until = deadline

    def close(self) -> None:
        with self._lock:
            self._until = float("-inf")

    def remaining(self) -> float:
        """Seconds writes still pass; 0 or less: closed."""
        with self._lock:
            return self._until - self._clock()

    def check(self, what: str) -> float:
        """The seconds left to write in; raises NotLeading, naming ``what``, when closed."""
        left = self.remaining()
        if left <= 0:
            raise NotLeading(
                f"{what}: not sent, this operator does not hold the leader Lease (lost, released "
                "or not renewed within its renew deadline); the leader will decide it"
            )
        return left


def bound_requests(api: client.ApiClient, timeout: float, fence: WriteFence | None = None) -> None:
    """From now on, give every request ``api`` sends a timeout of ``timeout`` seconds (unless
    its caller set one) and, with a ``fence``, send a write only while the fence lets it
    through, and give it no longer than the fence stays open.

    A request that timed out is not sent again (urllib3 would retry a GET three times, making a
    hung apiserver hold the caller four times as long). Call it after changing the client's
    configuration: it makes the connection pool again from it (e.g. for a new pool size).
    """
    configuration = api.configuration
    configuration.retries = Retry(total=3, connect=False, read=False)
    api.rest_client = rest.RESTClientObject(configuration)
    rest_client: Any = api.rest_client  # kubernetes.client.rest is untyped
    send = rest_client.request

    def bounded(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        limit = kwargs.get("_request_timeout") or timeout
        if fence is not None and method.upper() not in READS:
            left = fence.check(f"{method.upper()} {urlsplit(url).path}")
            if isinstance(limit, int | float):
                # Not in flight after the deadline by our clock: a standby may soon lead.
                limit = min(limit, left)
        kwargs["_request_timeout"] = limit
        return send(method, url, *args, **kwargs)

    rest_client.request = bounded


def is_not_found(error: BaseException) -> bool:
    return isinstance(error, client.ApiException) and error.status == 404


def is_conflict(error: BaseException) -> bool:
    return isinstance(error, client.ApiException) and error.status == 409
