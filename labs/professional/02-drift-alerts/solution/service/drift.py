"""Drift statistics of one feature: current values against a reference window.

Both functions take two sequences of numbers (lists or NumPy arrays) and return a float, exactly as
the README defines them:

- ``psi``: Population Stability Index on ``bins`` bins whose inner edges are the reference's
  quantiles at 1/bins, 2/bins, ... (NumPy's default, linear interpolation); a value v falls in the
  bin whose lower edge is <= v < its upper edge (the outer bins are open); a proportion below
  ``EPSILON`` counts as ``EPSILON``. PSI = sum over bins of (cur - ref) * ln(cur / ref).
- ``ks``: the two-sample Kolmogorov-Smirnov statistic, the largest distance between the two
  empirical distribution functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EPSILON = 1e-4
BINS = 10


def psi(reference: Sequence[float], current: Sequence[float], bins: int = BINS) -> float:
    """Population Stability Index of ``current`` against ``reference``."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    edges = np.quantile(ref, np.arange(1, bins) / bins)
    ref_share = _shares(ref, edges, bins)
    cur_share = _shares(cur, edges, bins)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _shares(values: np.ndarray, edges: np.ndarray, bins: int) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=bins)
    return np.maximum(counts / len(values), EPSILON)


def ks(reference: Sequence[float], current: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: max |F_reference(x) - F_current(x)|."""
    ref = np.sort(np.asarray(reference, dtype=float))
    cur = np.sort(np.asarray(current, dtype=float))
    points = np.concatenate([ref, cur])
    ref_cdf = np.searchsorted(ref, points, side="right") / len(ref)
    cur_cdf = np.searchsorted(cur, points, side="right") / len(cur)
    return float(np.max(np.abs(ref_cdf - cur_cdf)))
