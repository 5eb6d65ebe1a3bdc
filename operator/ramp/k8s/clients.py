"""The Kubernetes API clients the operator and the CLI share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from kubernetes import client, config

from ramp.api import GROUP, PLURAL, VERSION


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


def load_clients(kubeconfig: str | None = None, context: str | None = None) -> Clients:
    """Clients from a kubeconfig (explicit, $KUBECONFIG or ~/.kube/config) or in-cluster."""
    if kubeconfig is None and context is None:
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            return Clients(client.ApiClient())
        except config.ConfigException:
            pass
    api = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, context=context
    )
    return Clients(api)


def is_not_found(error: BaseException) -> bool:
    return isinstance(error, client.ApiException) and error.status == 404


def is_conflict(error: BaseException) -> bool:
    return isinstance(error, client.ApiException) and error.status == 409
