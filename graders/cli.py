"""The ``mlops-labs`` command line: list, start, grade, batch, doctor, cluster, and for lab
authors new and selftest. Thin: the work is in modules.

Exit codes: 0 full marks (selftest: the contract holds), 1 not full marks (selftest: it does not),
2 bad input, 3 grader or environment error, 130 interrupted. A partial grading (``grade --only``)
exits 0 when every check it ran passed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from graders.catalogue import discover_labs, find_lab
from graders.emitters import FORMATS, check_formats, emit
from graders.errors import BadInput, EnvironmentProblem, GraderError
from graders.learner_ci import write_learner_files
from graders.report import RunStatus

EXIT_FULL_MARKS, EXIT_NOT_FULL, EXIT_BAD_INPUT, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
CLUSTER_ACTIONS = ("up", "down", "status")
PIPE_WIDTH = 160  # columns of output that is not a terminal, unless $COLUMNS says
LIST_TITLE_NEEDS = 60  # columns `list` needs beside the widest lab id to show the titles too


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    console = make_console()
    try:
        return int(args.handler(args, console))
    except BadInput as exc:
        print(f"mlops-labs: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("mlops-labs: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except GraderError as exc:  # the machine or a lab's own files, before grading could start
        print(f"mlops-labs: {exc}", file=sys.stderr)  # with "Fix: …" when there is one
        return EXIT_ERROR
    except Exception as exc:  # a crash of mlops-labs itself is never the learner's failure
        if os.environ.get("MLOPS_LABS_DEBUG"):
            raise
        print(
            f"mlops-labs: internal error: {type(exc).__name__}: {exc} "
            "(MLOPS_LABS_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def make_console() -> Console:
    """The console every command prints to: a terminal's own width; elsewhere (a CI log, a
    pipe) ``$COLUMNS`` or ``PIPE_WIDTH``, where rich would squeeze every table into 80 columns."""
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS", "").strip().isdigit()
    return Console(highlight=False, width=PIPE_WIDTH if piped else None)


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    """Print the labs by level, with what they require and the learner's last score."""
    from graders.state import last_scores

    scores = last_scores()
    labs = discover_labs()
    widest = max((len(lab.id) for lab in labs), default=3)
    titled = console.width >= widest + LIST_TITLE_NEEDS  # else the title goes: the id must not
    table = Table(title="mlops-labs (level/lab id)", title_justify="left")
    table.add_column("lab", no_wrap=True, min_width=widest)  # never cut: the learner types it
    if titled:
        table.add_column("title", min_width=16)
    table.add_column("requires", min_width=8)
    table.add_column("hours", no_wrap=True)
    table.add_column("last score", no_wrap=True)
    for lab in labs:
        last = scores.get(lab.id)
        shown = f"{last['score']:g}/{last['max_score']:g}" if last else "—"
        cells = [lab.id, lab.title] if titled else [lab.id]
        table.add_row(*cells, lab.requires.describe(), f"{lab.estimated_hours:g}", shown)
    console.print(table)
    return 0


def cmd_start(args: argparse.Namespace, console: Console) -> int:
    """Copy a lab's starter into a new folder and make it a git repository with a first commit
    (unless the lab's ``start_commit`` is false: setting up version control is then the lab)."""
    lab = find_lab(args.lab)
    target = Path(args.dir or lab.slug).resolve()
    if target.exists() and any(target.iterdir()):
        raise BadInput(f"{target} already exists and is not empty")
    shutil.copytree(lab.starter, target, dirs_exist_ok=True)
    ci_files = write_learner_files(lab, target)  # CI that grades every push: in the 1st commit
    git = shutil.which("git")
    if git and lab.start_commit:
        subprocess.run([git, "init", "-q", str(target)], check=True)
        subprocess.run([git, "-C", str(target), "add", "-A"], check=True)
        identity = ["-c", "user.name=mlops-labs", "-c", "user.email=learner@mlops-labs.invalid"]
        subprocess.run(
            [git, "-C", str(target), *identity, "commit", "-q", "-m", f"Start {lab.id}"], check=True
        )
    console.print(
        f"Started [bold]{lab.title}[/] in {target}\n"
        f"Next steps:\n  1. Read {lab.path / 'README.md'}\n"
        f"  2. cd {target} and build your solution\n"
        f"  3. mlops-labs grade {lab.id} ."
    )
    if ci_files:
        written = ", ".join(str(path.relative_to(target)) for path in ci_files)
        console.print(
            f"CI: {written} grade every push once the folder is a repository on GitHub or "
            "GitLab (docs/ci.md)",
            markup=False,
            highlight=False,
        )
    return 0


def cmd_grade(args: argparse.Namespace, console: Console) -> int:
    """Grade a submission (or the lab's reference solution) and emit the report. With --only,
    grade just the checks named (by the number of their acceptance criterion, as the README and
    the report show, or by id) and the checks they require: a partial grading, scored out of
    the checks it ran and never recorded as your score."""
    from graders.grading import grade
    from graders.reference import has_steps, make_submission
    from graders.selection import select_checks
    from graders.state import record_score, state_dir

    lab = find_lab(args.lab)
    try:
        formats = check_formats(_split_formats(args.format))
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    selection = None if args.only is None else select_checks(lab, _split_commas(args.only))
    submission = lab.solution if args.reference else Path(args.dir or ".").resolve()
    if not submission.is_dir():
        raise BadInput(f"no such folder: {submission}")
    out_dir = Path(args.out) if args.out else state_dir() / "reports" / lab.id.replace("/", "-")
    if selection is not None and not args.out:
        out_dir = out_dir / "partial"  # the last whole grading's report stays where it was
    graded = "its reference solution" if args.reference else lab.graded_part(submission)
    console.print(f"Grading {lab.id}: {graded}", markup=False, highlight=False, soft_wrap=True)
    with tempfile.TemporaryDirectory(prefix="mlops-labs-reference-") as temporary:
        if args.reference and has_steps(submission):
            submission = make_submission(submission, Path(temporary) / "solution", console.print)
        report = grade(lab, submission, out_dir, console, args.time_limit, selection)
    emit(report, formats, out_dir, console)
    if not args.reference and not report.is_partial:
        record_score(report)
    console.print(f"Report: {out_dir / 'report.json'}")
    if report.status == RunStatus.INTERRUPTED:
        return EXIT_INTERRUPTED
    if report.status != RunStatus.COMPLETE:
        return EXIT_ERROR
    return EXIT_FULL_MARKS if report.full_marks else EXIT_NOT_FULL


def cmd_batch(args: argparse.Namespace, console: Console) -> int:
    """Grade every subfolder of SUBMISSIONS_DIR (a git repository at its HEAD) as one submission,
    each in isolation on its own copy, up to -j at a time; write OUT/gradebook.csv (one row per
    submission, one column per check) and every report format under OUT/submissions/NAME/.
    Exit 0 when every submission got a final report, 3 when a grading ended in error (the
    machine's fault, never a learner's), 130 when interrupted (--resume finishes the job)."""
    from graders.batch import BatchOptions, run_batch

    lab = find_lab(args.lab)
    options = BatchOptions(
        lab=lab,
        submissions=Path(args.submissions),
        out=Path(args.out or f"batch-{lab.slug}"),
        jobs=args.jobs,
        resume=args.resume,
        only=tuple(args.only or ()),
        time_limit=args.time_limit,
        collect=args.collect,
        index=args.index,
    )
    return run_batch(options, console)


def cmd_doctor(args: argparse.Namespace, console: Console) -> int:
    """Check the machine: Docker engine, base image, kind, kubectl, free disk."""
    from graders.doctor import examine, prepare

    failed_required = bool(args.prepare) and not prepare(console.print)
    for finding in examine():
        mark = (
            "[green]ok[/]"
            if finding.ok
            else ("[red]FAIL[/]" if finding.required else "[yellow]missing[/]")
        )
        console.print(f"{mark:>20}  {finding.name}: {finding.detail}")
        if not finding.ok:
            console.print(f"{'':>8}fix: {finding.fix}")
            failed_required |= finding.required
    return EXIT_ERROR if failed_required else 0


def cmd_cluster(args: argparse.Namespace, console: Console) -> int:
    """Create (up), delete (down) or check (status) the kind cluster that the Kubernetes labs'
    live checks run on: one control plane and two workers (infra/kind/cluster.yaml), named
    mlops-labs. Needs kind and a Docker engine; without a cluster those checks are skipped."""
    from graders import kind

    if args.action not in CLUSTER_ACTIONS:
        raise BadInput(f"unknown cluster action {args.action!r}: use up, down or status")

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    if args.action == "down":
        kind.down(say)
        return 0
    found = kind.up(say) if args.action == "up" else kind.status()
    if not found.ready:
        raise EnvironmentProblem(found.reason())
    for line in found.describe():
        say(line)
    return 0


def cmd_new(args: argparse.Namespace, console: Console) -> int:
    """Scaffold a lab that passes the catalogue contract at once: labs/LEVEL/NN-slug/ (lab.toml,
    a README with the fixed sections, starter/, solution/, mutants/), its grader package
    graders/labs/PACKAGE/ (checks.py with two cheap checks, fixtures.py), its unit tests
    tests/test_PACKAGE.py and a row of the README's lab table. PACKAGE is the slug without NN-,
    dashes turned into underscores."""
    from graders.scaffold import plan_lab, scaffold_lab

    new = plan_lab(args.lab)
    root = new.labs.parent
    for path in scaffold_lab(new):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        console.print(f"  wrote {shown}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"Created [bold]{new.lab_id}[/], graded by graders.labs.{new.package}. Next "
        f"(docs/authoring.md): mlops-labs selftest {new.lab_id} (the example holds); then "
        "write the lab's README, starter/, solution/, checks and a mutant per check, fill the "
        "TODO cells of its row in README.md's lab table, and selftest again."
    )
    return 0


def cmd_selftest(args: argparse.Namespace, console: Console) -> int:
    """Prove a lab's grader truthful: grade its reference solution (it must score 100 %), its
    starter (at most 20 %), every mutant (it must lose exactly the checks its mutant.toml names;
    checks gated on them may be blocked), every red-team mistake (a mutant whose mutant.toml
    names only: graded as grade --only those checks, it must lose the checks it names and keep
    the ones they require) and every passes-* variant (100 %), then print one row per case.
    Exit 0 when the contract holds, 1 when it does not, 3 when a grading errored."""
    from graders.selftest import cases_of, run_selftest, verdict_table
    from graders.state import state_dir

    lab = find_lab(args.lab)
    cases = cases_of(lab, _split_commas(args.only))
    out = Path(args.out) if args.out else state_dir() / "selftest" / lab.id.replace("/", "-")

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    verdicts = run_selftest(lab, cases, out, say)
    console.print(verdict_table(lab, verdicts))
    for verdict in verdicts:
        if not verdict.holds:
            errors = tuple(error.splitlines()[0] for error in verdict.report.errors if error)
            say(f"{verdict.case.name}: " + "; ".join(verdict.problems + errors))
    console.print(f"Reports: {out}", markup=False, highlight=False, soft_wrap=True)
    broken = sum(not verdict.holds for verdict in verdicts)
    if broken:
        say(f"The contract does not hold: {broken} of {len(verdicts)} cases.")
    else:
        say(f"The contract holds: {len(verdicts)} case{'s' if len(verdicts) > 1 else ''}.")
    if any(verdict.errored for verdict in verdicts):
        return EXIT_ERROR
    return EXIT_NOT_FULL if broken else EXIT_FULL_MARKS


def _split_commas(values: list[str] | None) -> list[str]:
    return [part.strip() for value in (values or []) for part in value.split(",") if part.strip()]


def _split_formats(values: list[str] | None) -> list[str]:
    return _split_commas(values) or ["terminal", "json"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-labs",
        description="Hands-on MLOps labs, graded by running your work for real.",
        epilog="Example: mlops-labs grade foundation/01-containerize-model --reference",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "list",
        help="list the labs",
        description=cmd_list.__doc__,
        epilog="Example: mlops-labs list",
    )
    listing.set_defaults(handler=cmd_list)

    start = commands.add_parser(
        "start",
        help="start a lab from its starter",
        description=cmd_start.__doc__,
        epilog="Example: mlops-labs start foundation/01-containerize-model",
    )
    start.add_argument("lab", help="lab id, e.g. foundation/01-containerize-model")
    start.add_argument("dir", nargs="?", help="new folder (default: the lab's folder name)")
    start.set_defaults(handler=cmd_start)

    grade = commands.add_parser(
        "grade",
        help="grade a lab",
        description=cmd_grade.__doc__,
        epilog="Examples: mlops-labs grade foundation/01-containerize-model .\n"
        "          mlops-labs grade containerize-model --reference --format json,junit --out out/\n"
        "          mlops-labs grade containerize-model . --only 6      (criterion 6 and what it "
        "requires)\n"
        "          mlops-labs grade containerize-model . --only 2,test_respects_port_variable\n"
        "Exit codes: 0 full marks (with --only: every check it ran passed), 1 not full marks, "
        "2 bad input,\n"
        "            3 grader or environment error, 130 interrupted.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grade.add_argument("lab", help="lab id or unique slug")
    grade.add_argument("dir", nargs="?", help="the submission folder (default: the current folder)")
    grade.add_argument(
        "--reference", action="store_true", help="grade the lab's reference solution"
    )
    grade.add_argument(
        "--format",
        action="append",
        metavar="FMT",
        help=f"report formats, comma-separated or repeated: {', '.join(FORMATS)} "
        "(default: terminal,json)",
    )
    grade.add_argument("--out", help="folder for the report files (default: under MLOPS_LABS_HOME)")
    grade.add_argument("--time-limit", type=float, help="seconds (default: the lab's own limit)")
    grade.add_argument(
        "--only",
        action="append",
        nargs="?",
        const="",
        metavar="N",
        help="grade only these checks, comma-separated or repeated: the number of a check's "
        "acceptance criterion (as the README and the report show) or its id; the checks they "
        "require are graded too. A partial grading: scored out of the checks it ran, never "
        "recorded as your score (default --out: .../reports/<lab>/partial/)",
    )
    grade.set_defaults(handler=cmd_grade)

    batch = commands.add_parser(
        "batch",
        help="grade a whole class of submissions (instructors)",
        description=cmd_batch.__doc__,
        epilog="Examples: mlops-labs batch containerize-model submissions/ -j 2 --out grades/\n"
        "          mlops-labs batch containerize-model submissions/ --out grades/ --resume\n"
        "          mlops-labs batch containerize-model submissions/ --out grades/ --only alice",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument("lab", help="lab id or unique slug")
    batch.add_argument(
        "submissions", metavar="SUBMISSIONS_DIR", help="one subfolder per submission"
    )
    batch.add_argument("-j", "--jobs", type=int, default=1, help="gradings at a time (default: 1)")
    batch.add_argument("--out", help="output folder (default: ./batch-<lab folder>)")
    batch.add_argument(
        "--resume",
        action="store_true",
        help="continue a batch in --out: keep unchanged submissions with a final report",
    )
    batch.add_argument(
        "--time-limit", type=float, help="seconds per submission (default: the lab's)"
    )
    which = batch.add_mutually_exclusive_group()
    which.add_argument(
        "--only", nargs="+", metavar="NAME", help="regrade just these submissions, keep the rest"
    )
    which.add_argument(
        "--collect",
        action="store_true",
        help="grade nothing: rebuild gradebook.csv and batch.json from OUT/submissions/*/",
    )
    which.add_argument(
        "--index",
        type=int,
        metavar="N",
        help="grade only the N-th submission (0-based, by name) into OUT/submissions/NAME/, "
        "leaving the gradebook to --collect: one pod of a Kubernetes indexed Job",
    )
    batch.set_defaults(handler=cmd_batch)

    doctor = commands.add_parser(
        "doctor",
        help="check this machine",
        description=cmd_doctor.__doc__,
        epilog="Example: mlops-labs doctor",
    )
    doctor.add_argument(
        "--prepare",
        action="store_true",
        help="first make the base and sandbox images available (pull, or bootstrap "
        "offline), so that the first grading is not slowed by them",
    )
    doctor.set_defaults(handler=cmd_doctor)

    cluster = commands.add_parser(
        "cluster",
        help="create, delete or check the kind cluster of the Kubernetes labs",
        description=cmd_cluster.__doc__,
        epilog="Example: mlops-labs cluster up (later: mlops-labs cluster status, "
        "mlops-labs cluster down)",
    )
    cluster.add_argument("action", metavar="ACTION", help="up, down or status")
    cluster.set_defaults(handler=cmd_cluster)

    new = commands.add_parser(
        "new",
        help="scaffold a new lab and its grader package (lab authors)",
        description=cmd_new.__doc__,
        epilog="Example: mlops-labs new professional/04-feature-store",
    )
    new.add_argument("lab", metavar="LEVEL/NN-slug", help="e.g. professional/04-feature-store")
    new.set_defaults(handler=cmd_new)

    selftest = commands.add_parser(
        "selftest",
        help="prove a lab's grader truthful: reference, starter, mutants (lab authors)",
        description=cmd_selftest.__doc__,
        epilog="Examples: mlops-labs selftest foundation/01-containerize-model\n"
        "          mlops-labs selftest containerize-model --only reference,starter\n"
        "          mlops-labs selftest containerize-model --only runs-as-root --out /tmp/st",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    selftest.add_argument("lab", help="lab id or unique slug")
    selftest.add_argument(
        "--only",
        action="append",
        metavar="CASES",
        help="grade only these cases, comma-separated or repeated: reference, starter, mutants "
        "(red-team mistakes included), passes (the passes-* variants), red-team or a mutant's "
        "name",
    )
    selftest.add_argument(
        "--out", help="folder for each case's report (default: under MLOPS_LABS_HOME)"
    )
    selftest.set_defaults(handler=cmd_selftest)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
