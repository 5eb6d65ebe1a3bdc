"""`ramp run`: wire the handlers, the health and metrics endpoints, and start Kopf."""

from __future__ import annotations

import asyncio
import logging
import os

import kopf
from prometheus_client import start_http_server

from ramp import handlers
from ramp.settings import OperatorSettings


def run_operator(settings: OperatorSettings, kubeconfig: str | None = None, verbose: bool = False) -> None:
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    kopf.configure(verbose=verbose, log_prefix=True)
    handlers.configure(settings)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.bind_address)
    asyncio.run(
        kopf.operator(
            clusterwide=not settings.namespaces,
            namespaces=list(settings.namespaces),
            standalone=settings.peering is None,
            peering_name=settings.peering or "ramp",
            liveness_endpoint=f"http://{settings.bind_address}:{settings.health_port}/healthz",
        )
    )
