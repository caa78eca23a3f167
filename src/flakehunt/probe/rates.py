"""
The two rate formulas the probe summary needs.

Kept here so probing does not wait on `flakehunt.correlate.stats`; the two should be merged.
"""

from __future__ import annotations

import math

_Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(failures: int, runs: int, *, z: float = _Z95) -> tuple[float, float]:
    """
    Wilson score interval for a failure rate (95 % by default).

    >>> [round(x, 3) for x in wilson_interval(3, 10)]
    [0.108, 0.603]
    >>> wilson_interval(0, 0)
    (0.0, 1.0)
    """
    if runs <= 0:
        return (0.0, 1.0)
    p = failures / runs
    denominator = 1 + z * z / runs
    centre = (p + z * z / (2 * runs)) / denominator
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def zero_failure_upper_bound(runs: int, *, confidence: float = 0.95) -> float:
    """
    One-sided exact upper bound on the failure rate after `runs` runs without a failure.

    Solves (1 - p) ** runs = 1 - confidence (Clopper-Pearson for zero events).

    >>> round(zero_failure_upper_bound(40), 3)
    0.072
    """
    if runs <= 0:
        return 1.0
    return 1 - (1 - confidence) ** (1 / runs)
