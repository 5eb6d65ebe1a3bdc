"""Everything that writes to the cluster: ConfigMap, workers, restarts, status, events.

Each module pairs pure ``build_*``/``diff`` functions with the one call that applies them, and
writes only when the cluster differs from what the engine asked for. `flagd.py` builds the flag
document the ConfigMap carries; `steering.py` carries out `ramp promote|pause|...` for the CLI and
the dashboard alike; `clients.py`, `lease.py` and `accounting.py` serve the runtime above.
"""
