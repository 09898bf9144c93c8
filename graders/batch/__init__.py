"""``mlops-labs batch``: grade a whole class, in parallel, resumable, without trusting anyone.

This module decides what to grade (every submission; with ``--resume`` the ones without an
unchanged final report; with ``--only`` the named ones), guards the output folder (a lock, and
no silent overwrite of another batch), and concludes (gradebook, summary, exit code). The
gradings themselves run in ``graders.batch.runner``, the copies come from
``graders.batch.submissions`` and the output folder is described in ``graders.batch.books``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from graders.batch.books import KEPT_BY_RESUME, BatchFolder, batch_facts, write_books
from graders.batch.progress import print_summary
from graders.batch.runner import Scheduler, require_engine
from graders.batch.submissions import (
    Submission,
    fingerprint,
    list_submissions,
    submission_name,
)
from graders.catalogue import Lab
from graders.errors import BadInput, EnvironmentProblem, GraderError

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 3, 130
LOCK_WAIT = 120.0  # a killed batch's gradings may still be stopping


@dataclass(frozen=True)
class BatchOptions:
    """What ``mlops-labs batch`` was asked to do."""

    lab: Lab
    submissions: Path
    out: Path
    jobs: int = 1
    resume: bool = False
    only: tuple[str, ...] = ()
    time_limit: float | None = None
    collect: bool = False
    index: int | None = None


def run_batch(options: BatchOptions, console: Console) -> int:
    """Grade the submissions as ``options`` say; return the exit code (0: every submission has a
    final report, 3: a grading ended in error or the engine is down, 130: interrupted)."""
    out = BatchFolder(options.out.resolve())
    submissions = _chosen(options, out)
    names = [submission.name for submission in submissions]
    only = {_as_listed(name, set(names)) for name in options.only}
    if options.collect:
        return _conclude(options, out, names, {}, console, halted="")
    if options.lab.requires.docker:
        require_engine()
    if options.index is not None:  # one pod of a Kubernetes indexed Job: no lock, no books
        submission = submissions[options.index]
        plan, _ = _plan(options, out, [submission])
        scheduler = Scheduler(options.lab, 1, options.time_limit, out, console, books=None)
        if scheduler.run(plan) == "interrupted":
            return EXIT_INTERRUPTED
        report = out.report(submission.name)
        return EXIT_OK if report is not None and report.status in KEPT_BY_RESUME else EXIT_ERROR
    _refuse_to_overwrite(options, out)
    with _batch_lock(out, console) as lock:
        shutil.rmtree(out.work, ignore_errors=True)
        if options.only:
            chosen = [s for s in submissions if s.name in only]
            plan, kept = chosen, {s.name: "kept" for s in submissions if s not in chosen}
        else:
            plan, kept = _plan(options, out, submissions)
        write_books(options.lab, out, names)
        if kept and plan:
            console.print(f"Keeping {len(kept)} finished submission(s); grading {len(plan)}.")
        scheduler = Scheduler(
            options.lab, options.jobs, options.time_limit, out, console, books=names, lock=lock
        )
        ending = scheduler.run(plan)
        shutil.rmtree(out.work, ignore_errors=True)
    return _conclude(options, out, names, kept, console, halted=ending)


def _chosen(options: BatchOptions, out: BatchFolder) -> list[Submission]:
    """The submissions, with the command line's bad input refused."""
    if options.jobs < 1:
        raise BadInput(f"-j must be at least 1, not {options.jobs}")
    submissions = list_submissions(options.submissions.resolve(), skip=out.root)
    if not submissions:
        raise BadInput(f"no submissions in {options.submissions} (one subfolder per submission)")
    listed = {submission.name for submission in submissions}
    unknown = sorted(name for name in options.only if _as_listed(name, listed) not in listed)
    if unknown:
        raise BadInput(f"no submission named {', '.join(unknown)} in {options.submissions}")
    if options.index is not None and not 0 <= options.index < len(submissions):
        raise BadInput(f"--index {options.index} is out of range: {len(submissions)} submissions")
    return submissions


def _as_listed(name: str, listed: set[str]) -> str:
    """A name given to ``--only`` as the batch lists it: as given, or its folder's name encoded
    (``Zoë`` or ``Zo%C3%AB``)."""
    return name if name in listed else submission_name(name)


def _refuse_to_overwrite(options: BatchOptions, out: BatchFolder) -> None:
    """Never overwrite another lab's batch, a batch without --resume or --only, or a folder that
    is not a batch's."""
    lab = out.lab_of_state()
    if lab is not None and lab != options.lab.id:
        raise BadInput(
            f"{out.root} holds a batch of {lab}, not {options.lab.id}: use another --out"
        )
    if lab is not None and not (options.resume or options.only):
        raise BadInput(
            f"{out.root} already holds a batch of {lab}: pass --resume to continue it "
            "(or --only NAME to regrade some), or use another --out"
        )
    if lab is None and out.root.is_dir() and any(out.root.iterdir()):
        raise BadInput(f"{out.root} is not empty and holds no batch: use another --out")


def _plan(
    options: BatchOptions, out: BatchFolder, submissions: list[Submission]
) -> tuple[list[Submission], dict[str, str]]:
    """Which submissions to grade; with --resume, an unchanged one with a final report is kept."""
    if not options.resume:
        return list(submissions), {}
    plan: list[Submission] = []
    kept: dict[str, str] = {}
    out.work.mkdir(parents=True, exist_ok=True)
    for submission in submissions:
        report = out.report(submission.name)
        recorded = batch_facts(report).get("fingerprint") if report is not None else None
        final = report is not None and report.status in KEPT_BY_RESUME
        if final and recorded and recorded == _fingerprint_or_none(submission, out):
            kept[submission.name] = "kept"
        else:
            plan.append(submission)
    return plan, kept


def _fingerprint_or_none(submission: Submission, out: BatchFolder) -> str | None:
    """The submission's fingerprint, or None when it cannot be had (it is refused, or its copy
    fails): then it is graded again, and its grading says why."""
    try:
        return fingerprint(submission, out.work)
    except Exception:
        return None


def _conclude(
    options: BatchOptions,
    out: BatchFolder,
    names: list[str],
    notes: dict[str, str],
    console: Console,
    *,
    halted: str,
) -> int:
    """Rebuild the books, print the summary and the gradebook's path; return the exit code."""
    write_books(options.lab, out, names)
    reports = {name: out.report(name) for name in names}
    rows = []
    for name, report in reports.items():
        commit = str(batch_facts(report).get("commit") or "") if report else ""
        refused = "refused" if report is not None and report.environment.get("refused") else ""
        note = " ".join(filter(None, [notes.get(name, ""), refused, commit[:12]]))
        rows.append((name, report, note))
    print_summary(console, rows)
    for name, path in (("Gradebook", out.gradebook), ("Class report", out.class_report)):
        console.print(f"{name}: {path}", markup=False, highlight=False, soft_wrap=True)
    if halted == "interrupted":
        console.print("Interrupted: run the same command with --resume to finish.")
        return EXIT_INTERRUPTED
    if halted:
        raise EnvironmentProblem(halted, "fix it, then run the same command with --resume")
    missing = [name for name, report in reports.items() if report is None]
    if options.collect and missing:
        console.print(f"No report yet: {', '.join(missing)}", markup=False, soft_wrap=True)
        return EXIT_ERROR
    final = all(r.status in KEPT_BY_RESUME for r in reports.values() if r is not None)
    return EXIT_OK if final else EXIT_ERROR


@contextmanager
def _batch_lock(out: BatchFolder, console: Console) -> Iterator[int]:
    """Hold the output folder's lock (waiting a while for a killed batch's gradings to stop);
    yields its descriptor, which the gradings inherit."""
    out.root.mkdir(parents=True, exist_ok=True)
    handle = os.open(out.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + LOCK_WAIT
        said = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise GraderError(
                        f"another batch is grading into {out.root}",
                        "wait for it to end, or use another --out",
                    ) from None
                if not said:
                    console.print("Waiting for the gradings of an earlier batch to stop…")
                    said = True
                time.sleep(0.5)
        yield handle
    finally:
        os.close(handle)
