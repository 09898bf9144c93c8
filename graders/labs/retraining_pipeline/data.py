"""Data of lab 04 (retraining pipeline): the starter's files and the grader's hidden batches.

Every file is made from the churn generator with a fixed seed, so it is the same on every machine
and in every grading (a grade can be reproduced), and the hidden batches follow the distribution of
the shipped data except where a batch is meant to break the data contract or poison the model:

    python -m graders.labs.retraining_pipeline.data DATA_DIR    the starter's data/ folder
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from graders.catalogue import Lab
from graders.labs._shared.churn import HEADER, churn_rows

COLUMNS = HEADER.split(",")
SHIPPED = {
    "training/base.csv": (4001, 8_000, 1),
    "holdout.csv": (4002, 4_000, 100_001),
    "incoming/batch-2026-11-01.csv": (4003, 2_000, 200_001),
}


@dataclass(frozen=True)
class Batch:
    """A hidden batch: the name it arrives under in ``data/incoming/``, its bytes, for a bad one
    the column it breaks, and its file in the grader's ``batches/`` when that is not its name
    (a batch that arrives under a name another batch had), and for a duplicate the batch it
    repeats."""

    name: str
    content: bytes
    broken_column: str = ""
    stored: str = ""
    repeats: str = ""  # for a duplicate, the name of the batch whose bytes it repeats

    @property
    def file(self) -> str:
        """Its file name in the grader's ``batches/`` folder (and its key in a probe's report)."""
        return self.stored or self.name


def csv_bytes(lines: list[str], header: str = HEADER) -> bytes:
    """A CSV file (header, rows, Unix line endings) as bytes."""
    return (header + "\n" + "\n".join(lines) + "\n").encode()


def shipped_files() -> dict[str, bytes]:
    """The starter's data files, by path under ``data/``."""
    return {
        path: csv_bytes(list(churn_rows(seed, count, first_id)))
        for path, (seed, count, first_id) in SHIPPED.items()
    }


def _rows(seed: int, count: int, first_id: int) -> list[list[str]]:
    return [line.split(",") for line in churn_rows(seed, count, first_id)]


def _join(rows: list[list[str]]) -> list[str]:
    return [",".join(row) for row in rows]


def _every(rows: list[list[str]], step: int, column: str, value: str) -> list[list[str]]:
    index = COLUMNS.index(column)
    return [
        row[:index] + [value] + row[index + 1 :] if n % step == 0 else row
        for n, row in enumerate(rows)
    ]


def good_batch(name: str, seed: int, first_id: int, count: int = 2_000) -> Batch:
    """A batch that keeps the data contract, drawn like the shipped data."""
    return Batch(name, csv_bytes(_join(_rows(seed, count, first_id))))


def bad_batches() -> list[Batch]:
    """Batches that each break one rule of the contract's table on one column: the schema, a
    type, both ends of the ranges (just outside them), empty values in a number and a text
    column, a category written in another case, a whole number with a fraction."""
    missing = [c for c in COLUMNS if c != "support_calls"]
    keep = [COLUMNS.index(c) for c in missing]
    schema = [[row[i] for i in keep] for row in _rows(4202, 1_500, 1_200_001)]
    types = _rows(4203, 1_500, 1_300_001)
    types = [
        row[:2] + [f'"${row[2]}"'] + row[3:] if n % 7 == 0 else row for n, row in enumerate(types)
    ]

    def breaking(name: str, seed: int, first_id: int, column: str, value: str) -> Batch:
        rows = _every(_rows(seed, 1_500, first_id), 11, column, value)
        return Batch(name, csv_bytes(_join(rows)), column)

    return [
        Batch("batch-2026-11-10.csv", csv_bytes(_join(schema), ",".join(missing)), "support_calls"),
        Batch("batch-2026-11-12.csv", csv_bytes(_join(types)), "monthly_charges"),
        breaking("batch-2026-11-13.csv", 4204, 1_400_001, "tenure_months", "-1"),
        breaking("batch-2026-11-14.csv", 4205, 1_500_001, "age", ""),
        breaking("batch-2026-11-20.csv", 4207, 1_700_001, "support_calls", "11"),
        breaking("batch-2026-11-22.csv", 4208, 1_800_001, "customer_id", ""),
        breaking("batch-2026-11-23.csv", 4209, 1_900_001, "internet_service", "Fiber"),
        breaking("batch-2026-11-24.csv", 4210, 2_100_001, "tenure_months", "12.5"),
    ]


def whole_numbers_as_decimals(name: str, seed: int, first_id: int) -> Batch:
    """A good batch whose whole-number columns sometimes read ``12.0``: still whole numbers."""
    rows = _rows(seed, 2_000, first_id)
    for n, row in enumerate(rows):
        if n % 9 == 0:
            for column in ("tenure_months", "support_calls", "age", "churned"):
                row[COLUMNS.index(column)] += ".0"
    return Batch(name, csv_bytes(_join(rows)))


def cut_batch(name: str, seed: int, first_id: int) -> Batch:
    """A good batch cut while it was written, in the middle of its last line. Its columns are in
    another order (the contract allows any), monthly_charges last, so that the cut row still has
    every column and a valid-looking charge (``56.8`` for ``56.85``): only the missing line
    break says that the file was cut."""
    order = [c for c in COLUMNS if c != "monthly_charges"] + ["monthly_charges"]
    keep = [COLUMNS.index(c) for c in order]
    rows = [[row[i] for i in keep] for row in _rows(seed, 1_500, first_id)]
    content = csv_bytes(_join(rows), ",".join(order))
    return Batch(name, content[:-2])


def flipped_batch(name: str, seed: int, count: int, first_id: int) -> Batch:
    """A batch whose labels are all flipped (poisoned). How much worse a candidate trained with
    it scores on the holdout grows with its size; the seeds and sizes below were measured with
    ``model.fit`` on the training files in four orders (the README leaves the order open)."""
    rows = _rows(seed, count, first_id)
    flipped = [row[:-1] + [str(1 - int(row[-1]))] for row in rows]
    return Batch(name, csv_bytes(_join(flipped)))


@cache
def hidden_batches() -> dict[str, Batch]:
    """Every hidden batch of a grading, by the role it plays in the checks (made once)."""
    bad = bad_batches()
    shipped = shipped_files()["incoming/batch-2026-11-01.csv"]
    return {
        "good": good_batch("batch-2026-11-05.csv", 4101, 1_000_001),
        "good-among-bad": whole_numbers_as_decimals("batch-2026-11-11.csv", 4102, 1_100_001),
        **{f"bad-{batch.name}": batch for batch in bad},
        # the starter's batch (decided by the first run), byte for byte, under a new name
        "duplicate": Batch("batch-2026-11-09.csv", shipped, repeats="batch-2026-11-01.csv"),
        # new customers under the name of the starter's batch, which data/training/ holds
        "name-taken": replace(
            good_batch("batch-2026-11-01.csv", 4103, 1_150_001), stored="again-batch-2026-11-01.csv"
        ),
        "cut": cut_batch("batch-2026-11-16.csv", 4206, 1_600_001),
        # both sides of the gate's 0.01 tolerance, in file-name order: against the first run's
        # model (0.805395) a candidate 0.0040 to 0.0052 worse (promoted), then, against the model
        # that promotion serves, one 0.0201 to 0.0232 worse (rejected); four training orders each
        "worse-within-tolerance": flipped_batch("batch-2026-11-17.csv", 4701, 1_500, 2_500_001),
        "poisoned": flipped_batch("batch-2026-11-18.csv", 4703, 3_000, 2_000_001),
        "scheduled": good_batch("batch-2026-11-21.csv", 4401, 3_000_001),
    }


def write_shipped(data_dir: Path) -> None:
    """Write the starter's data files under ``data_dir``."""
    for path, content in shipped_files().items():
        target = data_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def write_grader_files(folder: Path, lab: Lab, run_id: str) -> None:
    """The starter's data (``data/``), its holdout, the lab's ``model.py`` (``lab_model/``) and
    the hidden batches (``batches/``), for the workspace's ``/grader``."""
    (folder / "batches").mkdir()
    shutil.copytree(lab.starter / "data", folder / "data")
    shutil.copy(lab.starter / "data" / "holdout.csv", folder / "holdout.csv")
    # the lab's own model.py, for the grader's figure of the first model (trained on
    # data/training/ alone): a learner's copy could have been changed
    (folder / "lab_model").mkdir()
    shutil.copy(lab.starter / "pipeline" / "model.py", folder / "lab_model" / "model.py")
    for batch in hidden_batches().values():
        (folder / "batches" / batch.file).write_bytes(batch.content)


if __name__ == "__main__":
    write_shipped(Path(sys.argv[1]))
