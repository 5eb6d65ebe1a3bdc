"""`duration: 1d` is told what to write instead, by the models (the operator, `ramp simulate`)
as by admission: no regular expression in the message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ramp.api import RolloutSpec


def test_the_model_says_use_hours() -> None:
    spec = {
        "flag": {"key": "a", "configMap": "a"},
        "phases": [{"name": "a", "percentage": 5, "duration": "1d"}],
    }
    with pytest.raises(ValidationError) as refused:
        RolloutSpec.model_validate(spec)
    message = str(refused.value)
    assert "phases.0.duration" in message and "use hours, e.g. 24h" in message, message
    assert "[0-9]" not in message
