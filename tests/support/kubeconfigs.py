"""Clients for an address the test controls (a `Listener` standing in for an apiserver), made
the way the operator makes its own: from a kubeconfig."""

from __future__ import annotations

from pathlib import Path

import yaml

from ramp.k8s.clients import Clients, load_clients


def clients_at(url: str, directory: Path, **bound: float) -> Clients:
    """Clients whose kubeconfig names ``url`` as the apiserver (``bound``: load_clients')."""
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "stand-in", "cluster": {"server": url}}],
        "users": [{"name": "someone", "user": {"token": "t"}}],
        "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "someone"}}],
        "current-context": "stand-in",
    }
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    return load_clients(str(path), **bound)
