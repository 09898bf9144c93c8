"""Kubernetes resource quantities ("100m", "512Mi", "1.5G", "1e3", 2) read as the API server
reads them (``k8s.io/apimachinery/pkg/api/resource``), and the percentages of an IntOrString
("90%") read as the disruption controller reads them.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

# binary (Ki..Ei), decimal SI (n..E) suffixes; a decimal exponent (e3, E-2) is its own form
_SUFFIXES = {
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exponent>[eE][+-]?[0-9]+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?))"
)
_PERCENT = re.compile(r"[0-9]+%")


class NotAQuantity(ValueError):
    """A value that Kubernetes would refuse as a quantity."""


def quantity(value: Any) -> Decimal:
    """The exact value of a Kubernetes quantity (a YAML number, or a string such as "250m",
    "1.5Gi", "2e3"); raises :class:`NotAQuantity` for anything the API server refuses ("512MB",
    "1 Gi", "", a boolean)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise NotAQuantity(f"{value!r} is not a Kubernetes quantity")
    text = value if isinstance(value, str) else repr(value)
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise NotAQuantity(f"{text[:40]!r} is not a Kubernetes quantity (like 500m, 512Mi, 1G)")
    try:
        number = Decimal(match["number"])
        if match["exponent"]:
            return number * Decimal(10) ** int(match["exponent"][1:])
    except (InvalidOperation, ValueError, OverflowError) as error:
        raise NotAQuantity(f"{text[:40]!r} is not a Kubernetes quantity") from error
    return number * _SUFFIXES[match["suffix"] or ""]


def scaled(value: Any, total: int, *, round_up: bool) -> int:
    """An IntOrString (3, or "90%") as a number of pods out of ``total``, as Kubernetes'
    ``GetScaledValueFromIntOrPercent`` computes it; raises :class:`NotAQuantity` when it is
    neither a whole number nor a string of digits followed by "%"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _PERCENT.fullmatch(value):
        share = Decimal(value[:-1]) * total / 100
        return math.ceil(share) if round_up else math.floor(share)
    raise NotAQuantity(f"{str(value)[:40]!r} is neither a number of pods nor a percentage")
