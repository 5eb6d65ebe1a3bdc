"""`python -m ramp`: the same commands as `ramp` (cli/app.py)."""

from ramp.cli.app import main

main()
