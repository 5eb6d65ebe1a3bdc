"""The sequential test behind `compare` metrics: at most `1 - confidence` false alarms however
often the operator looks, detection of a 2x regression at 5 % close to Wald's figure, and an
interval that covers the true ratio."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from ramp.engine import sequential
from ramp.engine.sequential import WindowCounts

CONFIDENCE = 0.95
UNITS_PER_SECOND = 200
CONTROL_RATE = 0.01
INTERVAL = 10  # seconds between two looks


def poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def window(rng: random.Random, fraction: float, ratio: float) -> WindowCounts:
    n_t = poisson(rng, fraction * UNITS_PER_SECOND * INTERVAL)
    n_c = poisson(rng, (1 - fraction) * UNITS_PER_SECOND * INTERVAL)
    return WindowCounts(
        n_t, poisson(rng, n_t * CONTROL_RATE * ratio), n_c, poisson(rng, n_c * CONTROL_RATE)
    )


def first_alarm(
    rng: random.Random, ratio: float, looks: int, fraction: Callable[[int], float]
) -> int | None:
    """The look at which the test first concludes a regression, looking after every window."""
    ll = sequential.fresh()
    for look in range(1, looks + 1):
        ll = sequential.update(ll, window(rng, fraction(look), ratio), 1.0)
        if sequential.regressed(ll, CONFIDENCE):
            return look
    return None


def phases(look: int) -> float:
    """5 % for 5 minutes, then 25 %, then 50 %: the evidence is carried across promotions."""
    return 0.05 if look <= 30 else 0.25 if look <= 60 else 0.5


def test_aa_runs_false_alarm_at_most_one_minus_confidence_with_a_look_every_interval() -> None:
    rng = random.Random(20261202)
    runs = 2000
    alarms = sum(first_alarm(rng, 1.0, 90, phases) is not None for _ in range(runs))
    rate = alarms / runs
    print(f"A/A false alarms: {alarms}/{runs} = {rate:.2%} (allowed {1 - CONFIDENCE:.0%})")
    assert rate <= 1 - CONFIDENCE


def test_a_treatment_better_than_control_never_counts_as_regressed() -> None:
    rng = random.Random(7)
    alarms = sum(first_alarm(rng, 0.5, 60, phases) is not None for _ in range(300))
    assert alarms <= 300 * (1 - CONFIDENCE) / 5


def test_2x_regression_at_5_percent_is_caught_within_2x_of_walds_expected_time() -> None:
    rng = random.Random(11)
    wald = sequential.wald_detection_seconds(
        0.05, UNITS_PER_SECOND, CONTROL_RATE, 2.0, 1 - CONFIDENCE
    )
    assert wald is not None and 70 < wald < 85  # ln(20) / (0.05 * 200 * 0.01 * 0.386)
    times = []
    for _ in range(500):
        look = first_alarm(rng, 2.0, 400, lambda _: 0.05)
        times.append(look * INTERVAL if look is not None else math.inf)
    median = statistics.median(times)
    print(f"2x at 5 %: median detection {median:.0f}s, Wald {wald:.0f}s")
    assert median <= 2 * wald + INTERVAL


def test_the_interval_covers_the_true_ratio_in_at_least_the_confidence_share_of_runs() -> None:
    rng = random.Random(3)
    covered = 0
    runs = 300
    for _ in range(runs):
        ll = sequential.fresh()
        for _ in range(60):
            ll = sequential.update(ll, window(rng, 0.25, 1.5), 1.0)
        interval = sequential.ratio_interval(ll, 1.0, CONFIDENCE)
        assert interval is not None
        # the grid's resolution is a quarter doubling: widen by one step either side
        step = 2 ** (1 / sequential.STEPS_PER_DOUBLING)
        covered += interval[0] / step <= 1.5 <= interval[1] * step
    assert covered / runs >= CONFIDENCE


def test_wald_extra_failures_do_not_depend_on_traffic() -> None:
    extra = sequential.wald_extra_failures(2.0, 0.05)
    assert extra is not None and 7 < extra < 8  # (2 - 1) ln 20 / (2 ln 2 - 1)
    assert sequential.wald_extra_failures(1.0, 0.05) is None
    assert sequential.wald_detection_seconds(0.0, 200, 0.01, 2.0, 0.05) is None


@given(
    share=st.floats(0.01, 0.99),
    failures=st.integers(1, 40),
    max_ratio=st.sampled_from([0.5, 1.0, 1.5, 3.0]),
    below=st.floats(0.1, 1.0),
    history=st.lists(st.tuples(st.floats(0.01, 0.99), st.integers(0, 30), st.integers(0, 30))),
)
def test_the_evidence_is_a_supermartingale_at_or_below_max_ratio(
    share: float,
    failures: int,
    max_ratio: float,
    below: float,
    history: list[tuple[float, int, int]],
) -> None:
    """Ville's inequality needs E[evidence after a window] <= evidence before, whatever the
    history, the split and the true ratio at or below maxRatio: computed exactly here."""
    ll = sequential.fresh()
    for s, x_t, x_c in history:
        ll = sequential.update(ll, WindowCounts(s * 1000, x_t, (1 - s) * 1000, x_c), max_ratio)
    before = sequential.regression_evidence(ll)
    true_ratio = max_ratio * below
    weighted = true_ratio * share
    theta = weighted / (weighted + 1 - share)
    expected = 0.0
    for k in range(failures + 1):
        p = math.comb(failures, k) * theta**k * (1 - theta) ** (failures - k)
        after = sequential.update(
            ll, WindowCounts(share * 1000, k, (1 - share) * 1000, failures - k), max_ratio
        )
        expected += p * sequential.regression_evidence(after)
    assert expected <= before * (1 + 1e-9)
