"""Warm grading of each lab's reference vs the raw commands and probes it needs.

Usage: .venv/bin/python bench/grade_vs_raw.py [--lab foundation/02-data-versioning ...] [--repeat 3]

"Raw" does the same work by hand, with no harness around it: each lab's module in ``bench/raw/``
(named for its grader package) says what, and which of the grading's work it leaves out and why.
Goal: ≤ 1.3 (docs/authoring.md, the time budget). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from types import ModuleType

import raw
from _common import describe, grade_reference_command
from raw._kit import Raw, docker

from graders.catalogue import find_lab


def raw_modules() -> dict[str, ModuleType]:
    """Every lab's raw side, by lab id."""
    found = {}
    for info in pkgutil.iter_modules(raw.__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"raw.{info.name}")
            found[module.LAB] = module
    return dict(sorted(found.items()))


def runner_image() -> str:
    """The runner image the gradings use (the newest ``mlops-labs/runner`` tag)."""
    names = docker("images", "mlops-labs/runner", "--format", "{{.Repository}}:{{.Tag}}").split()
    if not names:
        raise SystemExit("no mlops-labs/runner image: grade a lab once first")
    return names[0]


def raw_once(module: ModuleType, solution: Path) -> float:
    """One raw run of ``module`` in a fresh folder; its wall time."""
    with tempfile.TemporaryDirectory(prefix="mlops-labs-raw-") as temporary:
        started = time.perf_counter()
        module.run(Raw(solution=solution, work=Path(temporary), runner=runner_image()))
        return time.perf_counter() - started


def timed_grading(command: list[str]) -> float:
    """``timed(command)``, where exit code 1 (not full marks) is fine when every check that did
    not pass was skipped (professional/03's kind checks on a machine without a cluster)."""
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    report = json.loads((Path(command[command.index("--out") + 1]) / "report.json").read_text())
    others = {c["outcome"] for c in report["checks"]} - {"passed", "skipped"}
    if done.returncode not in (0, 1) or others:
        raise SystemExit(f"{' '.join(command)}: exit {done.returncode}, outcomes {others}")
    return seconds


def compare(lab_id: str, module: ModuleType, repeat: int) -> float:
    """Grade and run raw ``repeat`` times each, alternating, after one warm-up of each; print
    both and return the ratio of their medians."""
    lab = find_lab(lab_id)
    with tempfile.TemporaryDirectory() as out:
        harness = grade_reference_command(out, lab.id)
        timed_grading(harness)  # warm: build cache and runner image
        raw_once(module, lab.solution)
        raw_s, grade_s = [], []
        for _ in range(repeat):
            raw_s.append(raw_once(module, lab.solution))
            grade_s.append(timed_grading(harness))
    ratio = statistics.median(grade_s) / statistics.median(raw_s)
    print(f"\n## {lab.id}")
    print(describe("raw commands", raw_s))
    print(describe("mlops-labs grade", grade_s))
    print(f"ratio (median grade / median raw): {ratio:.3f}  (goal ≤ 1.3)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="append", help="a lab (default: every lab)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    modules = raw_modules()
    wanted = [find_lab(name).id for name in args.lab] if args.lab else list(modules)
    missing = [lab_id for lab_id in wanted if lab_id not in modules]
    if missing:
        raise SystemExit(f"no raw side in bench/raw/ for: {', '.join(missing)}")
    ratios = {lab_id: compare(lab_id, modules[lab_id], args.repeat) for lab_id in wanted}
    print("\n| lab | grade / raw |\n| --- | ---: |")
    for lab_id, ratio in ratios.items():
        print(f"| {lab_id} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
