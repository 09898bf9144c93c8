"""Wall time of ``mlops-labs batch`` over 10 submissions of the containerize lab, -j1 and -j2.

Usage: .venv/bin/python bench/batch_speedup.py [--jobs 1 2] [--count 10]

The submissions are the lab's reference solution and its committed mutants (each a copy of the
solution with one mistake), so the class has the spread of a real one: full marks, failed builds,
containers that misbehave. One untimed grading of the reference warms Docker's build cache first,
so both runs start from the same cache. Each run writes a fresh gradebook; the script prints the
wall times, the speed-up, and whether the gradebooks agree on every score. Per run it also prints
the gradings' own seconds summed (``batch.json``) and how many times, for how many seconds in all,
the gradings waited for the machine (each report's ``machine_waits``): with -j2, the sum over the
wall time is how many gradings ran at once on average.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
from pathlib import Path

from _common import BIN, LAB, REPO, SOLUTION, grade_reference_command, timed

from graders.catalogue import find_lab

sys.path.insert(0, str(REPO))  # the mutants' helpers live in the test suite
from tests.support.labs import mutants_of  # noqa: E402


def make_class(folder: Path, count: int) -> None:
    """``count`` submissions: the reference, then mutants of it."""
    shutil.copytree(SOLUTION, folder / "00-reference")
    for number, mutant in enumerate(mutants_of(find_lab(LAB))[: count - 1], start=1):
        mutant.materialize(SOLUTION, folder / f"{number:02d}-{mutant.name}")


def scores(gradebook: Path) -> dict[str, tuple[str, str]]:
    """Submission → (status, score) from a gradebook."""
    with gradebook.open(newline="") as stream:
        return {row["submission"]: (row["status"], row["score"]) for row in csv.DictReader(stream)}


def graded_seconds(out: Path) -> float:
    """The gradings' own seconds, summed over the batch (``batch.json``)."""
    state = json.loads((out / "batch.json").read_text())
    return sum(float(entry.get("seconds") or 0) for entry in state["submissions"].values())


def machine_waits(out: Path) -> tuple[int, float]:
    """How many times the gradings waited for the machine, and for how many seconds in all (each
    report's ``environment.machine_waits``)."""
    count, seconds = 0, 0.0
    for report in (out / "submissions").glob("*/report.json"):
        waits = json.loads(report.read_text())["environment"].get("machine_waits") or {}
        count += int(waits.get("count", 0))
        seconds += float(waits.get("seconds", 0.0))
    return count, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--count", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        make_class(root / "class", args.count)
        timed(grade_reference_command(str(root / "warm")))
        walls: dict[int, float] = {}
        books = {}
        for jobs in args.jobs:
            out = root / f"out-j{jobs}"
            command = [str(BIN / "mlops-labs"), "batch", LAB, str(root / "class")]
            walls[jobs] = timed([*command, "-j", str(jobs), "--out", str(out)])
            books[jobs] = scores(out / "gradebook.csv")
            print(
                f"-j{jobs}: {walls[jobs]:.1f} s for {args.count} submissions "
                f"(gradings' own seconds summed: {graded_seconds(out):.1f}; "
                "waits for the machine: {} for {:.1f} s)".format(*machine_waits(out))
            )
        first = min(args.jobs)
        for jobs in args.jobs:
            if jobs != first:
                agree = "same scores" if books[jobs] == books[first] else "DIFFERENT scores"
                print(
                    f"speed-up -j{jobs} vs -j{first}: {walls[first] / walls[jobs]:.2f}x ({agree})"
                )
        for name, (status, score) in sorted(books[first].items()):
            print(f"  {name}: {status} {score}")


if __name__ == "__main__":
    main()
