"""`ramp` and `kubectl ramp`: run the operator, show Rollouts, steer them, simulate one.

`app` parses the command line and dispatches; `cohort_view` renders what `ramp status` shows
of a cohort comparison.
"""
