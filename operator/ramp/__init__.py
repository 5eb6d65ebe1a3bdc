"""Ramp: phased feature rollouts on Kubernetes, guarded by Prometheus."""

__version__ = "0.1.0"
