"""The operator process: Kopf handlers wake one reconcile loop per Rollout; each reconcile reads
the cluster and the metrics, asks the engine to decide, and applies what it decided.

`main` starts the process, `handlers` wires Kopf's events to the loops, `throttle` bounds how
many reconciles run at once, `reconcile` is one pass for one Rollout, `delivery` and
`notifications` tell people what happened, `leadership` keeps one replica working, `index` and
`waker` keep what the watch saw, `provider_pool` keeps the Prometheus clients (with the
credentials it reads from Secrets), `settings` is how the operator runs.
"""
