"""PSI and KS as lab professional/02-drift-alerts defines them, written independently of any
learner's (pure Python, no NumPy), and the hidden datasets check 1 compares the two on.

PSI: ``bins`` bins whose inner edges are the reference's quantiles at 1/bins ... (bins-1)/bins,
interpolated linearly between order statistics; value v is in bin i when edge[i-1] <= v < edge[i]
(outer bins open); every proportion below ``EPSILON`` counts as ``EPSILON``; PSI = sum of
(cur - ref) * ln(cur / ref). KS: the largest distance between the two right-continuous
empirical distribution functions.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence

EPSILON = 1e-4
BINS = 10
TOLERANCE = 1e-6


def quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolated linearly between order statistics."""
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def psi(reference: Sequence[float], current: Sequence[float], bins: int = BINS) -> float:
    """Population Stability Index of ``current`` against ``reference``."""
    ordered = sorted(reference)
    edges = [quantile(ordered, i / bins) for i in range(1, bins)]

    def shares(values: Sequence[float]) -> list[float]:
        counts = [0] * bins
        for value in values:
            counts[bisect.bisect_right(edges, value)] += 1
        return [max(count / len(values), EPSILON) for count in counts]

    return sum(
        (cur - ref) * math.log(cur / ref)
        for ref, cur in zip(shares(reference), shares(current), strict=True)
    )


def ks(reference: Sequence[float], current: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic."""
    first, second = sorted(reference), sorted(current)
    return max(
        abs(
            bisect.bisect_right(first, x) / len(first)
            - bisect.bisect_right(second, x) / len(second)
        )
        for x in first + second
    )


def agrees(expected: float, got: object) -> bool:
    """True when ``got`` is a finite number within ``TOLERANCE`` (absolute or relative)."""
    if isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isfinite(got):
        return False
    return abs(got - expected) <= TOLERANCE * max(1.0, abs(expected))


def hidden_datasets(seed: int = 20261122) -> dict[str, dict[str, list[float]]]:
    """Named (reference, current) pairs: no drift, a shift, skew, ties on bin edges, a current
    window with empty bins, unequal small samples, and unsorted input."""
    rng = random.Random(seed)

    def normal(mean: float, sd: float, count: int) -> list[float]:
        return [round(rng.gauss(mean, sd), 4) for _ in range(count)]

    def whole(low: int, high: int, count: int) -> list[float]:
        return [float(rng.randint(low, high)) for _ in range(count)]

    return {
        "same distribution": {"reference": normal(0, 1, 2000), "current": normal(0, 1, 500)},
        "mean shifted by one sd": {
            "reference": normal(50, 10, 2000),
            "current": normal(60, 10, 500),
        },
        "skewed incomes": {
            "reference": [round(rng.lognormvariate(10.9, 0.45), 2) for _ in range(1500)],
            "current": [round(rng.lognormvariate(10.6, 0.6), 2) for _ in range(400)],
        },
        "whole numbers with ties on edges": {
            "reference": whole(18, 30, 1000),
            "current": whole(20, 34, 300),
        },
        "current beyond the reference (empty bins)": {
            "reference": normal(600, 40, 1000),
            "current": normal(800, 10, 200),
        },
        "small unequal samples": {"reference": normal(5, 2, 53), "current": normal(5.5, 2, 17)},
        "unsorted, in arrival order": {
            "reference": [float(x) for x in range(1000, 0, -1)],
            "current": [float(x) * 1.3 for x in range(700, 0, -3)],
        },
    }
