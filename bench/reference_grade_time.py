"""Grade time of a lab's reference, cold and warm, and how a warm run splits.

Usage: .venv/bin/python bench/reference_grade_time.py [--lab foundation/02-data-versioning]
                                                       [--repeat 3] [--cold]
Cold (``--cold``): the sandbox runner image is removed first, so the run rebuilds it (what a learner
meets on the first grading after setup). Warm: the runner exists. The split of a warm run comes
from its report: the reference's STEPS.sh (when the lab has one), the MLflow server's start (when
the lab has one), and each check's own time (a check includes the fixtures it is first to need).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import docker
from _common import describe, grade_reference_command, timed

from graders.catalogue import find_lab
from graders.containers.sandbox import runner_image
from graders.reference import has_steps, make_submission


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="foundation/02-data-versioning")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    lab = find_lab(args.lab)
    client = docker.from_env()
    with tempfile.TemporaryDirectory() as out:
        if args.cold:
            client.images.remove(runner_image(client), force=True)
            cold = timed(grade_reference_command(out, lab.id))
            print(f"cold (runner image rebuilt): {cold:.1f} s")
        runner_image(client)
        warm = [timed(grade_reference_command(out, lab.id)) for _ in range(args.repeat)]
        print(describe("warm reference grade", warm))
        report = json.loads((Path(out) / "report.json").read_text())
        if has_steps(lab.solution):
            started = time.perf_counter()
            make_submission(lab.solution, Path(out) / "made")
            print(f"  of which solution/STEPS.sh: {time.perf_counter() - started:.1f} s")
        print(f"  of which the checks (pytest child): {report['duration']:.1f} s")
        if "mlflow_server_start_seconds" in report["environment"]:
            started = report["environment"]["mlflow_server_start_seconds"]
            print(f"    MLflow server start (in the first check): {started:.1f} s")
        for check in report["checks"]:
            print(f"    {check['criterion']:>2} {check['duration']:6.1f} s  {check['title']}")


if __name__ == "__main__":
    main()
