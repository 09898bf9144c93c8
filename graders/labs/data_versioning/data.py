"""Hidden data of foundation/02-data-versioning: new rows the learner's pipeline has never seen.

The rows are drawn from the churn generator with a seed made from the run id, so each grading
appends rows of its own (no learner can hard-code them) that follow the shipped distribution,
with customer ids after every shipped one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from graders.catalogue import Lab
from graders.labs._shared.churn import churn_rows

HIDDEN_ROWS = 5_000
HIDDEN_FIRST_ID = 1_000_001
HIDDEN_CSV = "hidden.csv"


def hidden_seed(run_id: str) -> int:
    """The seed of this run's hidden rows."""
    return int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16)


def write_grader_files(folder: Path, lab: Lab, run_id: str) -> None:
    """This run's hidden rows (no header), for a check to append to the raw data."""
    rows = churn_rows(hidden_seed(run_id), HIDDEN_ROWS, first_id=HIDDEN_FIRST_ID)
    (folder / HIDDEN_CSV).write_text("\n".join(rows) + "\n")
