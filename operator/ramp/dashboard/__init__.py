"""`ramp dashboard`: Rollouts in the browser, live, with the CLI's actions as buttons."""
