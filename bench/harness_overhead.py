"""Harness overhead: the same checks as plain pytest vs through `mlops-labs grade`.

Usage: .venv/bin/python bench/harness_overhead.py [--repeat 5]
Both sides grade the reference solution of the first lab, warm (one unmeasured run first), and
alternate so that drift in the machine's load hits both alike. Goal: ratio ≤ 1.1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from _common import LAB, REPO, SOLUTION, describe, grade_reference_command, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    grader = REPO / "graders" / "labs" / "containerize_model.py"
    with tempfile.TemporaryDirectory() as out:
        plain = [
            sys.executable,
            "-m",
            "pytest",
            str(grader),
            "-q",
            "-p",
            "no:cacheprovider",
            "--mlops-submission",
            str(SOLUTION),
            "--mlops-lab",
            LAB,
        ]
        harness = grade_reference_command(out)
        timed(harness)  # warm the build cache and the runner image
        plain_s, harness_s = [], []
        for _ in range(repeat):
            plain_s.append(timed(plain, cwd=out))
            harness_s.append(timed(harness))
    print(describe("plain pytest", plain_s))
    print(describe("mlops-labs grade", harness_s))
    ratio = statistics.median(harness_s) / statistics.median(plain_s)
    print(f"ratio (median grade / median plain): {ratio:.3f}  (goal ≤ 1.1)")


if __name__ == "__main__":
    main()
