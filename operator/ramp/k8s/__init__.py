"""Everything that writes to the cluster: ConfigMap, workers, restarts, status, events.

Each module pairs pure ``build_*``/``diff`` functions with the one call that applies them, and
writes only when the cluster differs from what the engine asked for.
"""
