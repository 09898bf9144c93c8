"""Drift statistics of one feature: current values against a reference window.

Both functions take two sequences of numbers (lists or NumPy arrays) and return a float, exactly as
the README defines them (section "The drift statistics"). Use only the standard library, NumPy
and SciPy: the grader imports this file on its own, without the rest of the service.
"""

from __future__ import annotations

from collections.abc import Sequence

EPSILON = 1e-4
BINS = 10


def psi(reference: Sequence[float], current: Sequence[float], bins: int = BINS) -> float:
    """Population Stability Index of ``current`` against ``reference``."""
    # TODO: inner bin edges = the reference's quantiles at 1/bins ... (bins-1)/bins (linear
    #       interpolation, NumPy's default); v is in the bin with lower edge <= v < upper edge;
    #       proportions below EPSILON count as EPSILON; sum (cur - ref) * ln(cur / ref).
    raise NotImplementedError("psi")


def ks(reference: Sequence[float], current: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: max |F_reference(x) - F_current(x)|."""
    # TODO: the largest distance between the two empirical distribution functions.
    raise NotImplementedError("ks")
