"""Loan applications of lab professional/02-drift-alerts: the reference window and live traffic.

Pure standard library and fixed seeds, so the reference window the starter ships can be regenerated
byte for byte (``python -m graders.labs.drift_alerts.data PATH``) and the grader's traffic,
drawn with other seeds, follows the same distribution, or a shifted one (a recession: lower
incomes, lower credit scores).
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from graders.labs.drift_alerts.statistics import hidden_datasets

if TYPE_CHECKING:
    from graders.catalogue import Lab

FEATURES = ("age", "income", "loan_amount", "credit_score")
REFERENCE_SEED = 8001
REFERENCE_ROWS = 2_000
TRAFFIC_ROWS = 3_000
DATASETS_JSON = "datasets.json"  # the hidden datasets the learner's psi() and ks() run on
TRAFFIC_JSON = "traffic.json"  # the live traffic: "quiet" (in distribution) and "shifted"
Row = dict[str, float]


def applications(seed: int, count: int, *, shifted: bool = False) -> Iterator[Row]:
    """``count`` loan applications drawn with ``seed``; ``shifted`` draws them after a recession
    (incomes x 0.6, credit scores 90 points lower, larger loans)."""
    rng = random.Random(seed)
    for _ in range(count):
        age = min(85, max(18, round(rng.gauss(42, 12))))
        income = round(rng.lognormvariate(10.9, 0.45) * (0.6 if shifted else 1.0), 2)
        loan = round(rng.lognormvariate(9.6, 0.6) * (1.3 if shifted else 1.0), 2)
        score = min(850, max(300, round(rng.gauss(680, 60)) - (90 if shifted else 0)))
        yield {"age": age, "income": income, "loan_amount": loan, "credit_score": score}


def csv_text(rows: Iterator[Row]) -> str:
    """The rows as CSV with a header and Unix line endings."""
    lines = [",".join(FEATURES)]
    lines += [",".join(_number(row[name]) for name in FEATURES) for row in rows]
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def write_reference(path: Path) -> None:
    """Write the shipped reference window (``data/reference.csv``)."""
    path.write_text(csv_text(applications(REFERENCE_SEED, REFERENCE_ROWS)), encoding="utf-8")


def write_grader_files(folder: Path, lab: Lab, run_id: str) -> None:
    """The hidden datasets and the live traffic, for the workspace's ``/grader``."""
    (folder / DATASETS_JSON).write_text(json.dumps(hidden_datasets()))
    traffic = {
        "quiet": list(applications(8002, TRAFFIC_ROWS)),
        "shifted": list(applications(8003, TRAFFIC_ROWS, shifted=True)),
    }
    (folder / TRAFFIC_JSON).write_text(json.dumps(traffic))


if __name__ == "__main__":
    write_reference(Path(sys.argv[1]))
