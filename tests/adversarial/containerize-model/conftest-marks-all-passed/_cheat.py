"""ATTACK: shared by every file here that pytest might load while grading (conftest.py, plugins,
sitecustomize.py). Loaded, it says so in the file named by conftest-marker.txt (the test that grades
this submission writes that path) and turns every check into a pass, in pytest's reports and in
the grader's JSON report."""

from __future__ import annotations

import json
from pathlib import Path

MARKER = Path(__file__).with_name("conftest-marker.txt")


def confess(who: str) -> None:
    """Leave proof that ``who`` was loaded."""
    if MARKER.is_file():
        with Path(MARKER.read_text().strip()).open("a") as proof:
            proof.write(f"{who} was loaded\n")


def mark_all_passed(report: object) -> None:
    """Make a pytest report say passed."""
    report.outcome = "passed"  # type: ignore[attr-defined]


def full_marks(path: str | None) -> None:
    """Rewrite the grader's JSON report with every point awarded."""
    if not path or not Path(path).is_file():
        return
    data = json.loads(Path(path).read_text())
    for check in data.get("checks", []):
        check.update(outcome="passed", points=check["max_points"], message="")
    data.update(status="complete", errors=[])
    Path(path).write_text(json.dumps(data))
