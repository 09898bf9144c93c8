"""Where the whole suite's time goes, from its own ``--durations=0`` output.

Usage:
    PYTEST_ADDOPTS=--durations=0 bash .ci/run > suite.log 2>&1
    .venv/bin/python bench/suite_durations.py suite.log

Sums every test's setup, call and teardown seconds (worker time: with ``-n 3`` the wall time is
about a third) into groups: each lab's truthfulness set (``tests/test_truthfulness.py``, by the lab
in the test's id), the adversarial gradings by lab, and every other test file; then prints the
groups, largest first, and the run's wall time. Nothing is graded again.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

from graders.catalogue import discover_labs

DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (?:setup|call|teardown)\s+(tests/[\w/]+\.py)::(\S+)")
WALL = re.compile(r"in [\d.]+s \((\d+:\d\d:\d\d)\)")


def group_of(path: str, test: str, labs: list[str]) -> str:
    """The group a test's seconds count in: a lab's truthfulness set, or its file."""
    case = test.partition("[")[2]
    lab = next((lab for lab in labs if case.startswith(lab)), "")
    if path.endswith("test_truthfulness.py") and lab:
        return f"truthfulness {lab}"
    return path.removeprefix("tests/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="the suite's output, run with --durations=0")
    args = parser.parse_args()
    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, set[str]] = defaultdict(set)
    wall = ""
    labs = sorted((lab.id for lab in discover_labs()), key=len, reverse=True)
    for line in args.log.read_text(errors="replace").splitlines():
        found = DURATION.match(line.strip())
        if found:
            group = group_of(found.group(2), found.group(3), labs)
            seconds[group] += float(found.group(1))
            counts[group].add(found.group(3))
        elif WALL.search(line):
            wall = WALL.search(line).group(1)  # type: ignore[union-attr]
    if not seconds:
        raise SystemExit(f"{args.log}: no durations (run the suite with --durations=0)")
    print("| group | tests | worker time (s) |")
    print("| --- | ---: | ---: |")
    for group, total in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"| {group} | {len(counts[group])} | {total:.0f} |")
    print(f"\nworker time in all: {sum(seconds.values()):.0f} s; wall time: {wall or 'not found'}")


if __name__ == "__main__":
    main()
