"""Data of foundation/03-experiment-tracking the grader brings into the sandbox.

The sweep runs on the starter's validation set with its last row left out, and the best model is
scored on that same file, as the grader ships it (not the learner's copy, which they could have
changed): with 9,999 rows every accuracy has more than four decimals, so a figure rounded to three
or four places differs from the true one (on the 10,000 rows the shipped sweep's best accuracy is
0.7410, which rounding to three places leaves as it is).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from graders.catalogue import Lab

VALID_CSV = "valid.csv"
FEATURE_COLUMNS = frozenset(
    {"tenure_months", "monthly_charges", "total_charges", "contract", "payment_method",
     "internet_service", "support_calls", "age"}
)  # fmt: skip


def write_grader_files(folder: Path, lab: Lab, run_id: str) -> None:
    """The starter's ``data/valid.csv`` without its last row, for the sweep to run on and the
    probe to score the best model on."""
    lines = (lab.starter / "data" / VALID_CSV).read_bytes().splitlines(keepends=True)
    (folder / VALID_CSV).write_bytes(b"".join(lines[:-1]))


def validation_rows(lab: Lab) -> set[tuple[str, ...]]:
    """The grader's validation rows, features only (no id, no label), each value normalised as
    :func:`normalised` does, to tell a saved input example of validation rows."""
    with open(lab.starter / "data" / VALID_CSV, newline="", encoding="utf-8") as file:
        return {
            tuple(normalised(row[c]) for c in sorted(FEATURE_COLUMNS))
            for row in csv.DictReader(file)
        }


def normalised(value: Any) -> str:
    """A value as text in one form: numbers as floats (``12``, ``12.0`` and ``"12"`` alike),
    and a missing value (an empty CSV field, JSON's null or NaN) as ``nan``."""
    if value is None or value == "":
        return "nan"
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


def not_validation_rows(
    columns: list[str], rows: list[list[Any]], validation: set[tuple[str, ...]]
) -> str | None:
    """Why a saved input example's rows are not rows of the validation set, or None."""
    order = sorted(range(len(columns)), key=lambda n: columns[n])
    for number, row in enumerate(rows, 1):
        values = tuple(normalised(row[n]) if n < len(row) else "" for n in order)
        if values not in validation:
            return (
                f"row {number} of the input example is not a row of data/valid.csv (features "
                "only): the input example is a few validation rows, not training rows"
            )
    return None if rows else "the input example has no rows"
