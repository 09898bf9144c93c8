"""Data of foundation/03-experiment-tracking the grader brings into the sandbox.

The best model is scored on the starter's labelled validation set, as the grader ships it (not
the learner's copy, which they could have changed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from graders.catalogue import Lab

VALID_CSV = "valid.csv"


def write_grader_files(folder: Path, lab: Lab, run_id: str) -> None:
    """The starter's ``data/valid.csv``, for the probe to score the best model on."""
    shutil.copy(lab.starter / "data" / VALID_CSV, folder / VALID_CSV)
