"""What each lab's whole truthfulness set costs: its self-test, one grading at a time.

Usage: .venv/bin/python bench/truthfulness_cost.py [--lab foundation/02-data-versioning ...]

Grades every case of each lab's self-test (reference, starter, mutants, red-team mistakes,
``passes-*`` variants) as ``mlops-labs selftest`` does, and prints each lab's worker time against
the budget of docs/authoring.md: 240 s a lab on average, a lab over 360 s named in its README.
The adversarial submissions (tests/adversarial/) are graded by the suite only; their time is in
its ``--durations``. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from graders.catalogue import discover_labs, find_lab
from graders.selftest import cases_of, run_selftest

AVERAGE_BUDGET = 240.0
NAMED_ABOVE = 360.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="append", help="a lab (default: every lab)")
    args = parser.parse_args()
    labs = [find_lab(name) for name in args.lab] if args.lab else discover_labs()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlops-labs-cost-") as temporary:
        for lab in labs:
            verdicts = run_selftest(lab, cases_of(lab), Path(temporary) / lab.slug, print)
            selftest = sum(verdict.seconds for verdict in verdicts)
            held = all(verdict.holds for verdict in verdicts)
            rows.append((lab.id, len(verdicts), selftest, held))
    print("\n| lab | cases | self-test (s) | contract | over 360 s |")
    print("| --- | ---: | ---: | --- | --- |")
    for lab_id, cases, seconds, held in rows:
        over = "yes: name it in the README" if seconds > NAMED_ABOVE else ""
        print(f"| {lab_id} | {cases} | {seconds:.0f} | {'holds' if held else 'BROKEN'} | {over} |")
    average = sum(row[2] for row in rows) / max(len(rows), 1)
    print(f"\naverage {average:.0f} s a lab (budget {AVERAGE_BUDGET:.0f} s)")


if __name__ == "__main__":
    main()
