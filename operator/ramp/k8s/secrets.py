"""Reading one key of a Secret a Rollout points at (Prometheus credentials, webhook URLs).

Errors name the Secret and the key, never the value: the value is a credential.
"""

from __future__ import annotations

import base64
import binascii
from typing import Protocol

from kubernetes import client

from ramp.k8s.clients import Clients


class SecretKeyReference(Protocol):
    """What a `secretRef` in the spec holds (``api.spec.SecretKeyRef``)."""

    @property
    def name(self) -> str: ...

    @property
    def key(self) -> str: ...


class SecretValueError(Exception):
    """The Secret cannot be read, lacks the key, or its value is not text."""


def read_secret_value(clients: Clients, namespace: str, ref: SecretKeyReference) -> str:
    """The text of ``ref.key`` in Secret ``namespace/ref.name``, stripped of surrounding space."""
    where = f"Secret {namespace}/{ref.name}"
    try:
        secret = clients.core.read_namespaced_secret(ref.name, namespace)
    except client.ApiException as e:
        raise SecretValueError(f"cannot read {where}: {e.reason}") from e
    data = secret.data or {}
    if ref.key not in data:
        raise SecretValueError(f"{where} has no key {ref.key!r}")
    try:
        # Header values and URLs are text; a binary value (say, a DER certificate put under the
        # wrong key) is a mistake to name, not a reason to abort the reconcile.
        value = base64.b64decode(data[ref.key], validate=True).decode("utf-8").strip()
    except (binascii.Error, UnicodeDecodeError) as e:
        raise SecretValueError(
            f"{where} key {ref.key!r} is not UTF-8 text; store the value as plain text "
            "(for example with kubectl create secret generic --from-literal)"
        ) from e
    if not value:
        raise SecretValueError(f"{where} key {ref.key!r} is empty")
    return value
