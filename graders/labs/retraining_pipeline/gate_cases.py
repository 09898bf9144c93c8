"""What criterion 4 concludes about each batch of its run: the gate tested on both sides of its
tolerance (a poisoned batch whose candidate is more than 0.01 worse, another whose candidate is
worse by less), and the scores recorded for a decision recomputed where the grader can."""

from __future__ import annotations

from typing import Any, cast

from graders.errors import LearnerFailure
from graders.labs.retraining_pipeline.data import Batch
from graders.labs.retraining_pipeline.fixtures import (
    RunResult,
    consumed_once,
    one_decision,
    rows_in_training,
)

TOLERANCE = 0.01
METRIC_AGREEMENT = 0.001


def scores(entry: dict[str, Any], batch: Batch) -> tuple[float, float]:
    """The entry's candidate_auc and current_auc, both numbers, or the learner's failure."""
    metrics = entry.get("metrics") or {}
    candidate, current = metrics.get("candidate_auc"), metrics.get("current_auc")
    if not all(
        isinstance(v, float | int) and not isinstance(v, bool) for v in (candidate, current)
    ):
        raise LearnerFailure(
            f"the {entry.get('decision')} entry of {batch.name} does not record both scores as "
            f"numbers (candidate_auc {str(candidate)[:40]}, current_auc {str(current)[:40]})"
        )
    return float(cast(float, candidate)), float(cast(float, current))


def is_number(value: Any) -> bool:
    """True for a JSON number (a boolean is not one)."""
    return isinstance(value, float | int) and not isinstance(value, bool)


def current_recorded(entry: dict[str, Any], batch: Batch, served_before: float) -> None:
    """The entry's current_auc is the holdout AUC of the model served when it was decided."""
    _, current = scores(entry, batch)
    if abs(current - served_before) > METRIC_AGREEMENT:
        raise LearnerFailure(
            f"the entry of {batch.name} records current_auc {current}, but the model served "
            f"then scores {served_before} ROC AUC on data/holdout.csv (the grader's own figure)"
        )


def rejected_beyond_tolerance(outcome: RunResult, batch: Batch, served_before: float) -> None:
    """A candidate more than the tolerance worse is rejected: one entry whose scores say so, the
    batch in data/rejected/ only and none of its rows in the training set."""
    entry = one_decision(outcome, batch, "rejected", "promoted")
    candidate, current = scores(entry, batch)
    if entry.get("decision") == "promoted":
        raise LearnerFailure(
            f"{batch.name} (labels flipped) was promoted: its candidate scores {candidate}, more "
            f"than {TOLERANCE} below the served model's {current}, so the gate must reject it "
            "(promote only if candidate_auc >= current_auc - 0.01)"
        )
    current_recorded(entry, batch, served_before)
    if not candidate < current - TOLERANCE:
        raise LearnerFailure(
            f"{batch.name} was rejected, but its entry records candidate_auc {candidate} against "
            f"current_auc {current}: within the tolerance, which promotes"
        )
    rows = rows_in_training(outcome, batch)
    assert rows == 0, f"{rows} rows of the rejected batch {batch.name} stayed in the training set"
    consumed_once(outcome, batch, "rejected")


def promoted_within_tolerance(outcome: RunResult, batch: Batch, served_before: float) -> None:
    """A candidate worse than the served model, but by less than the tolerance, is promoted."""
    entry = one_decision(outcome, batch, "promoted", "rejected")
    candidate, current = scores(entry, batch)
    if entry.get("decision") == "rejected":
        raise LearnerFailure(
            f"{batch.name} was rejected ({str(entry.get('reason'))[:200]}), but its candidate "
            f"({candidate}) is worse than the served model ({current}) by less than the "
            f"{TOLERANCE} tolerance: promote when candidate_auc >= current_auc - 0.01, not "
            "only when it is better"
        )
    current_recorded(entry, batch, served_before)
    consumed_once(outcome, batch, "training")
