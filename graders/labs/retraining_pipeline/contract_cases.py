"""What criterion 3 concludes about each batch of its run: the contract's plain breaches, and the
cases the README decides (a cut file, a repeated batch, a name already taken, ``12.0`` as a whole
number)."""

from __future__ import annotations

from graders.errors import LearnerFailure
from graders.labs.retraining_pipeline.data import Batch
from graders.labs.retraining_pipeline.fixtures import (
    RunResult,
    consumed_once,
    one_decision,
    rows_in_training,
    where,
)

FOLDERS = {"promoted": "training", "rejected": "rejected"}


def first_place(before: RunResult, batch: Batch) -> str:
    """Where the first run put the batch named ``batch.repeats`` (or ``batch.name``)."""
    name = batch.repeats or batch.name
    decided = [
        str(e.get("decision")) for e in before.state["history"]["entries"] if e.get("batch") == name
    ]
    folder = FOLDERS.get(decided[-1], "quarantine") if decided else "training"
    return f"data/{folder}/{name}"


def about(batch: Batch) -> str:
    """Why ``batch`` breaks the contract, in the README's words."""
    if batch.repeats:
        return (
            f"byte for byte the batch {batch.repeats} that the first run decided, under a new "
            "name: a repeated batch is never trained on again"
        )
    if batch.broken_column:
        return f"it breaks the contract on {batch.broken_column}"
    return "it ends in the middle of a line: it was cut while it was being written"


def quarantined(outcome: RunResult, batch: Batch, before: RunResult | None = None) -> None:
    """``batch`` is in data/quarantine/ only, unchanged, with one ``quarantined`` entry and a
    reason that names its column (or the batch it repeats), and none of its rows were added to
    the training set. A repeated batch's original (``before``: the first run) stays where it was."""
    found = sorted(where(outcome, batch))
    expected = [f"data/quarantine/{batch.name}"]
    original = first_place(before, batch) if before and batch.repeats else ""
    if original:  # the batch it repeats stays where the first run put it
        expected.append(original)
    if found != sorted(expected):
        gone = f"its bytes are at {found}" if found else "it is gone (nothing is ever deleted)"
        raise LearnerFailure(
            f"{batch.name} should be quarantined ({about(batch)}), in data/quarantine/ only; {gone}"
        )
    decisions = [entry.get("decision") for entry in outcome.decisions(batch)]
    if decisions != ["quarantined"]:
        raise LearnerFailure(
            f"history.jsonl should have one quarantined entry for {batch.name} ({about(batch)}); "
            f"it has {decisions}"
        )
    one_decision(outcome, batch, "quarantined")  # its format
    reason = outcome.state["reasons"].get(batch.name, "").strip()
    assert reason, f"data/quarantine/{batch.name}.reason.txt is missing or empty"
    named = batch.broken_column or batch.repeats
    assert named in reason, (
        f"the reason for {batch.name} does not name "
        + (f"the batch it repeats ({named})" if batch.repeats else f"the column at fault ({named})")
        + f": {reason[:200]!r}"
    )
    rows = rows_in_training(outcome, batch)
    once = batch.content.count(b"\n") - 1 if original.startswith("data/training/") else 0
    assert rows == once, (
        f"the training set holds {rows} rows of {batch.name}, not {once} ({about(batch)})"
    )


def good_with_decimals(outcome: RunResult, batch: Batch) -> None:
    """A good batch whose whole numbers sometimes read ``12.0`` is decided on its merits."""
    for entry in outcome.decisions(batch):
        if entry.get("decision") == "quarantined":
            raise LearnerFailure(
                f"{batch.name} keeps the contract but was quarantined "
                f"({str(entry.get('reason'))[:200]}): some of its whole-number values read like "
                "12.0, and 12.0 is a whole number (12.5 is not)"
            )
    entry = one_decision(outcome, batch, "promoted", "rejected")
    consumed_once(outcome, batch, FOLDERS[entry["decision"]])


def kept_beside_its_namesake(
    before: RunResult, outcome: RunResult, batch: Batch, namesake: Batch
) -> None:
    """A new batch under the name of one already in data/training/ (``namesake``'s bytes) gets
    its own decision and lies in its folder under a new name, next to the older file, which
    keeps its name and bytes."""
    kept = first_place(before, batch)
    if kept not in where(outcome, namesake):
        raise LearnerFailure(
            f"{kept}, the batch the first run decided, no longer holds its bytes after a new "
            f"batch arrived under the same name: nothing is ever deleted or overwritten; keep "
            "the new one under another name that starts with "
            f"{batch.name.removesuffix('.csv')} (its locations: {where(outcome, batch)})"
        )
    earlier = len(before.decisions(batch))
    entries = outcome.decisions(batch)[earlier:]
    if len(entries) != 1:
        raise LearnerFailure(
            f"a new batch arrived under a name already decided ({batch.name}, other bytes): "
            f"history.jsonl should have one new entry for it, it has {len(entries)} (recognise "
            "a batch by its bytes, not only by its name)"
        )
    decision = entries[0].get("decision")
    if decision not in FOLDERS:
        raise LearnerFailure(
            f"the new batch named {batch.name} keeps the contract, but was {decision!r} "
            f"({str(entries[0].get('reason'))[:200]})"
        )
    found = where(outcome, batch)
    folder = f"data/{FOLDERS[decision]}/"
    stem = batch.name.removesuffix(".csv")
    placed = [
        path
        for path in found
        if path.startswith(folder)
        and path.removeprefix(folder).startswith(stem)
        and path.endswith(".csv")
    ]
    if len(found) != 1 or not placed:
        raise LearnerFailure(
            f"the new batch named {batch.name} was {decision}: its bytes should be in {folder} "
            f"only, under a name that starts with {stem} and ends in .csv; they are at {found}"
        )
