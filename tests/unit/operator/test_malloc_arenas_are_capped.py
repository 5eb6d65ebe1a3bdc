"""`ramp run` caps glibc's malloc arenas (memory freed by the API threads is otherwise kept per
thread), and leaves the cap to the user when MALLOC_ARENA_MAX is set."""

from __future__ import annotations

import platform

import pytest

from ramp.runtime.main import fewer_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_arenas_are_capped_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert fewer_malloc_arenas()


def test_a_cap_the_user_set_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not fewer_malloc_arenas()
