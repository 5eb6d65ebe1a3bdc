from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.listener import Listener


@pytest.fixture
def hanging() -> Iterator[Listener]:
    """A receiver that accepts every connection and answers nothing (until the test ends)."""
    listener = Listener()
    listener.hold()
    yield listener
    listener.close()
