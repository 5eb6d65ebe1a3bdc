"""The always-valid sequential test behind `compare` metrics: is the flag-on cohort failing more
often than `maxRatio` times the flag-off cohort?

Method: a mixture sequential probability ratio test (Robbins 1970; Johari, Pekelis & Walsh,
"Always valid inference", 2017) on the treatment's share of failures. Within one analysis
window the two cohorts got ``n_t`` and ``n_c`` units and ``x_t`` and ``x_c`` of them failed.
Given the window's ``x = x_t + x_c`` failures, and failures as rare independent events (Poisson),
``x_t`` is Binomial(x, theta) with

    theta(r) = r s / (r s + 1 - s),   s = n_t / (n_t + n_c),   r = p_t / p_c,

so each window's likelihood of a ratio ``r`` is known whatever the split ``s`` is: evidence
gathered at 5 % keeps its weight when the phase moves to 25 %. The log-likelihood of every ratio
on a fixed grid (``maxRatio`` x 2^(j/4), j = -12..16) is summed over windows and kept in status.

The regression test weighs the alternatives above ``maxRatio`` with fixed prior weights:

    E = sum_k w_k exp(l(r_k) - l(maxRatio)),   r_k > maxRatio

E is a non-negative supermartingale under every ratio at or below ``maxRatio`` (each window's
likelihood ratio of a larger theta has expectation at most 1 there), so by Ville's inequality
P(E ever reaches 1/alpha) <= alpha: the false-alarm rate stays at or below ``1 - confidence``
however often the operator looks. The same construction against every grid point gives an
always-valid confidence interval for the ratio (the grid points not rejected).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

STEPS_PER_DOUBLING = 4
LOWEST, HIGHEST = -12, 16
"""The grid: multipliers of maxRatio from 2^(-12/4) = 1/8 to 2^(16/4) = 16."""

GRID: tuple[float, ...] = tuple(2 ** (j / STEPS_PER_DOUBLING) for j in range(LOWEST, HIGHEST + 1))
"""Multipliers of maxRatio whose log-likelihood is tracked; GRID[NULL] is 1 (maxRatio itself)."""

NULL = -LOWEST


def _prior(center: float, spread: float, indices: Sequence[int]) -> dict[int, float]:
    raw = {
        i: math.exp(-(((i + LOWEST) / STEPS_PER_DOUBLING - center) ** 2) / (2 * spread**2))
        for i in indices
    }
    total = sum(raw.values())
    return {i: w / total for i, w in raw.items()}


ALTERNATIVES = _prior(1.0, 0.75, range(NULL + 1, len(GRID)))
"""Weights of the regressions the test looks for, in log2 of the multiplier: centred on 2x
(the size of regression worth catching at 5 %), down to about 1.2x and up to 16x."""

INTERVAL_PRIOR = _prior(0.0, 1.5, range(len(GRID)))
"""Weights of every grid point, for the two-sided confidence interval."""


@dataclass(frozen=True)
class WindowCounts:
    """Units and failed units per cohort in one analysis window."""

    treatment_units: float
    treatment_failures: float
    control_units: float
    control_failures: float

    @property
    def informative(self) -> bool:
        """Whether the window says anything about the ratio: both cohorts had units and some
        unit failed."""
        return (
            self.treatment_units > 0
            and self.control_units > 0
            and self.treatment_failures + self.control_failures > 0
        )


def fresh() -> list[float]:
    """The log-likelihoods before any window: every ratio equally likely."""
    return [0.0] * len(GRID)


def update(log_likelihood: Sequence[float], counts: WindowCounts, max_ratio: float) -> list[float]:
    """Add one window's evidence; normalised so the largest entry is 0 (only differences count)."""
    if not counts.informative:
        return list(log_likelihood)
    share = counts.treatment_units / (counts.treatment_units + counts.control_units)
    x_t, x_c = counts.treatment_failures, counts.control_failures
    out = []
    for before, multiplier in zip(log_likelihood, GRID, strict=True):
        weighted = max_ratio * multiplier * share
        theta = weighted / (weighted + 1 - share)
        out.append(before + x_t * math.log(theta) + x_c * math.log1p(-theta))
    top = max(out)
    return [v - top for v in out]


def regression_evidence(log_likelihood: Sequence[float]) -> float:
    """E: how many times likelier the data are under a regression than at maxRatio (mixed)."""
    null = log_likelihood[NULL]
    return sum(w * math.exp(min(log_likelihood[k] - null, 700.0)) for k, w in ALTERNATIVES.items())


def regressed(log_likelihood: Sequence[float], confidence: float) -> bool:
    return regression_evidence(log_likelihood) >= 1 / (1 - confidence)


def ratio_interval(
    log_likelihood: Sequence[float], max_ratio: float, confidence: float
) -> tuple[float, float] | None:
    """The always-valid confidence interval of the failure-rate ratio, at the grid's resolution;
    None when every grid point is rejected (the ratio is off the grid)."""
    limit = 1 / (1 - confidence)
    top = max(log_likelihood)
    # Against grid point j: sum over i != j of w_i / (1 - w_j) * L_i / L_j, from one total.
    likelihood = [math.exp(v - top) for v in log_likelihood]
    total = sum(INTERVAL_PRIOR[i] * likelihood[i] for i in range(len(likelihood)))
    kept = []
    for j, here in enumerate(likelihood):
        w = INTERVAL_PRIOR[j]
        if here > 0 and (total - w * here) / ((1 - w) * here) < limit:
            kept.append(j)
    if not kept:
        return None
    return max_ratio * GRID[min(kept)], max_ratio * GRID[max(kept)]


def wald_detection_seconds(
    fraction: float, units_per_second: float, control_rate: float, ratio: float, alpha: float
) -> float | None:
    """Expected time for a Wald SPRT to detect a ``ratio``-fold regression of the treatment at
    ``fraction`` of the traffic: ln(1/alpha) / (f N p0 (r ln r - r + 1)). None when it never
    would (no exposure, no traffic, no failures, or no regression)."""
    information = ratio * math.log(ratio) - ratio + 1 if ratio > 0 else 0.0
    rate = fraction * units_per_second * control_rate * information
    if rate <= 0:
        return None
    return math.log(1 / alpha) / rate


def wald_extra_failures(ratio: float, alpha: float) -> float | None:
    """Expected failed units beyond the control's rate before detection, whatever f and N are:
    (r - 1) ln(1/alpha) / (r ln r - r + 1)."""
    information = ratio * math.log(ratio) - ratio + 1 if ratio > 0 else 0.0
    if information <= 0:
        return None
    return (ratio - 1) * math.log(1 / alpha) / information
