"""Where a grading spends its time: one table per lab, from a warm grading of its reference.

Usage: .venv/bin/python bench/lab_profile.py [--lab foundation/02-data-versioning ...] [--markdown]

Each lab's reference is staged and graded by the same pytest child ``mlops-labs grade`` runs
(``graders.grading.pytest_command``), with its progress events kept. A grading's time splits into:
- the live line's steps (``wait`` events: "building the image", "running dvc repro", …), each
  until the next event;
- each check's own time (a check includes the fixtures it is first to need).
Run it on a quiet machine: it measures one grading at a time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from graders.catalogue import Lab, discover_labs, find_lab
from graders.grading import GradingRun, child_environment, pytest_command
from graders.reference import has_steps, make_submission
from graders.staging import stage_submission


def profile(lab: Lab) -> dict[str, Any]:
    """Grade ``lab``'s reference once; its total, its kit phases, live-line steps and checks."""
    with tempfile.TemporaryDirectory(prefix="mlops-labs-profile-") as temporary:
        folder = Path(temporary)
        started = time.perf_counter()
        source = lab.solution
        if has_steps(source):
            source = make_submission(source, folder / "made")
        steps_seconds = time.perf_counter() - started
        staged = stage_submission(lab, source, folder / "staged")
        run = GradingRun(lab, staged.path, folder / "out", uuid.uuid4().hex[:12], 3600)
        run.out_dir.mkdir()
        run.graded = staged.path
        started = time.perf_counter()
        subprocess.run(
            pytest_command(run),
            env=child_environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        total = time.perf_counter() - started
        events = [json.loads(line) for line in run.events_path.read_text().splitlines()]
        report = json.loads(run.report_path.read_text())
    return {
        "lab": lab.id,
        "total": total,
        "solution_steps": steps_seconds if has_steps(lab.solution) else 0.0,
        "score": f"{report['score']:g}/{report['max_score']:g}",
        "steps": live_steps(events),
        "checks": [(c["criterion"], c["duration"], c["title"]) for c in report["checks"]],
    }


def live_steps(events: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """Each live-line step (``wait`` event) and the time until the next ``wait``, check start or
    end of the grading."""
    marks = [e for e in events if e["event"] in ("wait", "start", "finish")]
    steps = []
    for here, after in zip(marks, marks[1:], strict=False):
        if here["event"] == "wait":
            steps.append((str(here["what"]), after["time"] - here["time"]))
    return steps


def show(found: dict[str, Any], markdown: bool) -> None:
    """Print one lab's profile."""
    print(f"\n## {found['lab']}: {found['total']:.1f} s ({found['score']})")
    if found["solution_steps"]:
        print(f"(the reference's STEPS.sh, before grading: {found['solution_steps']:.1f} s)")
    rows = [(f"step: {what[:70]}", seconds) for what, seconds in found["steps"]]
    rows += [(f"check {c}: {title[:60]}", seconds) for c, seconds, title in found["checks"]]
    if markdown:
        print("| where | seconds |\n| --- | ---: |")
        for what, seconds in rows:
            print(f"| {what} | {seconds:.1f} |")
        return
    for what, seconds in rows:
        print(f"  {seconds:7.1f} s  {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="append", help="a lab (default: every lab)")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    args = parser.parse_args()
    labs = [find_lab(name) for name in args.lab] if args.lab else discover_labs()
    summary = []
    for lab in labs:
        found = profile(lab)
        show(found, args.markdown)
        summary.append((lab.id, found["total"]))
    print("\n| lab | warm grading of the reference (s) |\n| --- | ---: |")
    for lab_id, total in summary:
        print(f"| {lab_id} | {total:.1f} |")


if __name__ == "__main__":
    main()
