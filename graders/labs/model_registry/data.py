"""Data of professional/01-model-registry: what the grader trains its three models on.

Drawn from the churn generator with fixed seeds, so the models, their AUCs and their
predictions are the same in every grading.
"""

from __future__ import annotations

from pathlib import Path

from graders.catalogue import Lab
from graders.labs._shared.churn import write_csv

TRAIN_SEED, TRAIN_ROWS = 7001, 6_000
HOLDOUT_SEED, HOLDOUT_ROWS = 7002, 3_000


def write_grader_files(folder: Path, lab: Lab, run_id: str) -> None:
    """``train.csv`` and ``holdout.csv``, for the probe's ``train`` command."""
    write_csv(folder / "train.csv", seed=TRAIN_SEED, count=TRAIN_ROWS)
    write_csv(folder / "holdout.csv", seed=HOLDOUT_SEED, count=HOLDOUT_ROWS)
