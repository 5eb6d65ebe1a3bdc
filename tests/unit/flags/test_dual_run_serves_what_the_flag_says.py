"""The dual-run helper returns the new implementation's result when the flag is on for the
user and the legacy one's otherwise, and the served side's exception reaches the caller."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from ramp.flags import DualRun, FlagFile, dual_run
from tests.unit.flags.conftest import FlagWriter

FLAG = "orders-v2-path"


def legacy(x: int) -> str:
    return f"legacy {x}"


def new(x: int) -> str:
    return f"new {x}"


@pytest.mark.parametrize("sample_rate", [0.0, 1.0])
@pytest.mark.parametrize(("percentage", "expected"), [(100, "new 7"), (0, "legacy 7")])
def test_the_flag_picks_the_served_side(
    percentage: float,
    expected: str,
    sample_rate: float,
    write_flags: FlagWriter,
    registry: CollectorRegistry,
) -> None:
    run = DualRun(
        FlagFile(write_flags(FLAG, percentage)), FLAG, sample_rate=sample_rate, registry=registry
    )
    assert run.run("user-1", legacy, new, 7) == expected


def test_each_user_gets_the_side_the_flag_gives_them(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    flags = FlagFile(write_flags(FLAG, 30))
    run = DualRun(flags, FLAG, sample_rate=0.0, registry=registry)
    for i in range(300):
        user = f"user-{i}"
        got = run.run(user, legacy, new, i)
        assert got == (new(i) if flags.is_enabled(FLAG, user) else legacy(i))


@pytest.mark.parametrize("sample_rate", [0.0, 1.0])
@pytest.mark.parametrize(("percentage", "failing"), [(100, "new"), (0, "legacy")])
def test_the_served_sides_exception_propagates(
    percentage: float,
    failing: str,
    sample_rate: float,
    write_flags: FlagWriter,
    registry: CollectorRegistry,
) -> None:
    def broken(x: int) -> str:
        raise LookupError(f"{failing} failed on {x}")

    sides = {"legacy": legacy, "new": new, failing: broken}
    run = DualRun(
        FlagFile(write_flags(FLAG, percentage)), FLAG, sample_rate=sample_rate, registry=registry
    )
    with pytest.raises(LookupError, match=f"{failing} failed on 3"):
        run.run("user-1", sides["legacy"], sides["new"], 3)


def test_keyword_arguments_reach_both_sides(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    seen: list[tuple[str, int, int]] = []

    def old(a: int, *, b: int) -> int:
        seen.append(("old", a, b))
        return a + b

    def fresh(a: int, *, b: int) -> int:
        seen.append(("new", a, b))
        return b + a

    run = DualRun(FlagFile(write_flags(FLAG, 100)), FLAG, registry=registry)
    assert run.run("user-1", old, fresh, 2, b=3) == 5
    assert sorted(seen) == [("new", 2, 3), ("old", 2, 3)]


def test_the_decorator_serves_by_the_key_it_takes_from_the_arguments(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    flags = FlagFile(write_flags(FLAG, 50))

    def price_v1(customer: str, amount: float) -> float:
        return amount

    @dual_run(
        flags,
        FLAG,
        legacy=price_v1,
        targeting_key=lambda customer, amount: customer,
        sample_rate=0.0,
        registry=registry,
    )
    def price(customer: str, amount: float) -> float:
        """The new pricing."""
        return amount * 2

    assert price.__doc__ == "The new pricing." and price.__name__ == "price"
    for i in range(200):
        customer = f"customer-{i}"
        on = flags.is_enabled(FLAG, customer)
        assert price(customer, 10.0) == (20.0 if on else 10.0)
    assert isinstance(price.helper, DualRun)


def test_the_decorator_works_on_methods(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    flags = FlagFile(write_flags(FLAG, 100))

    class Orders:
        factor = 3

        def total_v1(self, user: str, n: int) -> int:
            return n * self.factor

        @dual_run(
            flags,
            FLAG,
            legacy=total_v1,
            targeting_key=lambda self, user, n: user,
            registry=registry,
        )
        def total(self, user: str, n: int) -> int:
            return n * self.factor

    assert Orders().total("user-1", 2) == 6
    assert (
        registry.get_sample_value(
            "ramp_dual_run_total", {"feature_flag_key": FLAG, "result": "match"}
        )
        == 1
    )
