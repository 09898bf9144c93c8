"""A batch's output folder: per-submission reports, the gradebook and the batch state.

::

    OUT/gradebook.csv               one header, one row per finished submission, sorted by name
    OUT/class-report.html           the instructor's overview of the same rows, one offline page
    OUT/batch.json                  the lab, and per submission: fingerprint, commit, status, score
    OUT/submissions/NAME/           report.json and every other report format, grade.log
    OUT/.work/ .home/ .machine/     private copies being graded, the gradings' own state, locks

``report.json`` of each submission is the one source of truth: the batch writes there the
submission's name (not the path of the private copy it graded) and, under
``environment.batch``, the fingerprint ``--resume`` compares. ``gradebook.csv``,
``class-report.html`` (``graders.batch.class_report``) and ``batch.json`` are rebuilt from those
files, atomically, after every finished submission.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graders.batch.class_report import write_class_report
from graders.catalogue import Lab
from graders.checks import ungraded_report
from graders.emitters import FILE_NAMES, FORMATS, RENDERERS
from graders.emitters.gradebook import render_class_gradebook
from graders.report import Report, RunStatus, load_report, write_text_atomically
from graders.text import clean

#: Every report format that is a file (the terminal format is a console's).
FILE_FORMATS: tuple[str, ...] = tuple(name for name in FORMATS if name != "terminal")
#: Statuses a grading cannot change by running again: ``--resume`` keeps these.
KEPT_BY_RESUME: frozenset[RunStatus] = frozenset({RunStatus.COMPLETE, RunStatus.TIMED_OUT})
#: Statuses that make a row of the gradebook (an error is a row: it says ERROR, not a score).
ROW_STATUSES: frozenset[RunStatus] = KEPT_BY_RESUME | {RunStatus.ERROR}


@dataclass(frozen=True)
class BatchFolder:
    """The paths of one batch's output folder."""

    root: Path

    @property
    def gradebook(self) -> Path:
        """The class gradebook (CSV)."""
        return self.root / "gradebook.csv"

    @property
    def class_report(self) -> Path:
        """The instructor's overview of the gradebook's rows (HTML)."""
        return self.root / "class-report.html"

    @property
    def state(self) -> Path:
        """The batch state (JSON)."""
        return self.root / "batch.json"

    @property
    def work(self) -> Path:
        """Private copies of the submissions being graded."""
        return self.root / ".work"

    @property
    def home(self) -> Path:
        """``MLOPS_LABS_HOME`` of the gradings (the instructor's own state is never touched)."""
        return self.root / ".home"

    @property
    def machine(self) -> Path:
        """``MLOPS_LABS_MACHINE_LOCK`` of parallel gradings (see ``graders.timing``)."""
        return self.root / ".machine"

    @property
    def lock(self) -> Path:
        """Held by a batch, and by its gradings, while they run."""
        return self.root / ".batch.lock"

    def reports(self, name: str) -> Path:
        """The report folder of submission ``name``."""
        return self.root / "submissions" / name

    def report(self, name: str) -> Report | None:
        """The report of submission ``name``, or None when there is none (or it is unreadable)."""
        try:
            return load_report(self.reports(name) / FILE_NAMES["json"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def lab_of_state(self) -> str | None:
        """The lab id of the batch already in this folder, or None when there is none."""
        try:
            lab = json.loads(self.state.read_text(encoding="utf-8")).get("lab")
        except (OSError, ValueError, AttributeError):
            return None
        return lab if isinstance(lab, str) else None


def batch_facts(report: Report) -> dict[str, Any]:
    """What the batch recorded in a report (empty when the batch never finished it)."""
    facts = report.environment.get("batch")
    return facts if isinstance(facts, dict) else {}


def reason(report: Report) -> str | None:
    """Why a submission has no grade of its own: the error of a grading that broke, or the note
    of a refused submission (nothing graded); None for a grading."""
    if report.status == RunStatus.ERROR and report.errors:
        return report.errors[0].splitlines()[0][:300]
    if report.environment.get("refused") and report.notes:
        return report.notes[0][:300]
    return None


def error_report(lab: Lab, name: str, message: str) -> Report:
    """A report for a submission that could not be graded at all (never the learner's fault)."""
    report = ungraded_report(lab, name, RunStatus.ERROR)  # every check the lab declares: not run
    report.errors.insert(0, clean(message))  # it may quote a file name or output of the submission
    return report


def finish_report(report: Report, folder: Path, name: str, facts: dict[str, Any]) -> None:
    """Name the submission in ``report``, record the batch's ``facts`` and write every file
    format into ``folder`` (``report.json`` last: it is what ``--resume`` trusts)."""
    report.submission = name
    report.environment["batch"] = facts
    for format_name, render in RENDERERS.items():
        write_text_atomically(folder / FILE_NAMES[format_name], render(report))
    report.write(folder / FILE_NAMES["json"])


def write_books(lab: Lab, out: BatchFolder, names: Iterable[str]) -> list[Report]:
    """Rebuild ``gradebook.csv`` (finished submissions only), ``class-report.html`` (the same
    rows) and ``batch.json`` from the reports of ``names``, each atomically; return the
    gradebook's reports."""
    rows: list[Report] = []
    state: dict[str, dict[str, Any]] = {}
    for name in sorted(names):
        report = out.report(name)
        if report is None:
            continue
        facts = batch_facts(report)
        state[name] = {
            "fingerprint": facts.get("fingerprint"),
            "commit": facts.get("commit") or None,
            "status": report.status.value,
            "score": report.score,
            "max_score": report.max_score,
            "seconds": facts.get("seconds"),
            "reason": reason(report),
        }
        if report.status in ROW_STATUSES and facts:
            rows.append(report)
    write_gradebook(out.gradebook, rows)
    document = {
        "lab": lab.id,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "submissions": state,
    }
    write_text_atomically(out.state, json.dumps(document, indent=2) + "\n")
    write_class_report(out.class_report, lab, rows, out.root / "submissions")
    return rows


def write_gradebook(path: Path, reports: list[Report]) -> None:
    """Write the class gradebook atomically (a temporary file renamed over the old one), so a
    reader — or a batch killed mid-write — never sees a partial file."""
    write_text_atomically(path, render_class_gradebook(reports))
