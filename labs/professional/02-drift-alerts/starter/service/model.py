"""The model (provided, do not change): a fixed logistic scorecard for loan default.

``score(row)`` is the probability of default of one application; ``predict(row)`` is 1 when that
probability is 0.5 or more. It needs nothing but the standard library, so the lab is about
watching the model, not about training it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

FEATURES = ("age", "income", "loan_amount", "credit_score")
_WEIGHTS = {"age": -0.015, "income": -0.000025, "loan_amount": 0.00006, "credit_score": -0.012}
_BIAS = 7.8


def score(row: Mapping[str, float]) -> float:
    """The probability of default of one application (a mapping with every feature)."""
    z = _BIAS + sum(weight * float(row[name]) for name, weight in _WEIGHTS.items())
    return 1.0 / (1.0 + math.exp(-z))


def predict(row: Mapping[str, float]) -> int:
    """1 (default) when ``score(row)`` is at least 0.5, else 0."""
    return int(score(row) >= 0.5)
