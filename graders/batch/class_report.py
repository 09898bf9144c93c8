"""The instructor's class overview, ``OUT/class-report.html``: one self-contained page.

It is rebuilt with ``gradebook.csv``, from the same reports, after every finished submission
(atomically), so its numbers are always the gradebook's: the score distribution of the complete
gradings (bins of 10 %), each check's pass rate across the class (most failed first), the time
each submission took, the errors and time-outs listed apart, and one row per submission linked
to its own reports.

Scores are out of the lab's full total (a check that did not run scores 0 of its points). As in
the gradebook, an error's score is no grade: it is listed apart and left out of every statistic.
A time-out keeps its score (the gradebook's) and counts in the checks' pass rates (what did not
run is not passed), but it is listed apart too and left out of the distribution. Hidden checks are
named by their key, as in the gradebook; their messages are never shown.

Everything that came from a submission (names, titles, messages) is HTML-escaped; the page holds
no script and loads nothing (inline CSS and inline SVG only, under a Content-Security-Policy that
forbids scripts and fetches anyway), so it opens the same offline, from a file, years later.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from urllib.parse import quote

from graders.batch.class_page import page
from graders.batch.svg import histogram, horizontal_bars, stacked_bar
from graders.catalogue import Lab
from graders.emitters._common import check_key, format_number
from graders.emitters.gradebook import NOT_A_GRADE
from graders.report import Outcome, Report, RunStatus, write_text_atomically
from graders.text import clean_name

#: The report files a submission's link may lead to, the most readable first.
READABLE_FILES: tuple[str, ...] = ("step-summary.md", "junit.xml")
JSON_FILE = "report.json"
#: Outcomes of a check that did not run at all, shown together.
DID_NOT_RUN: frozenset[Outcome] = frozenset(
    {Outcome.BLOCKED, Outcome.NOT_RUN, Outcome.SKIPPED, Outcome.ERROR}
)


def text(value: object, limit: int = 300) -> str:
    """``value`` as one line of HTML text, safe in an attribute too: cleaned (no control
    characters, valid Unicode, at most ``limit`` characters), then escaped."""
    return escape(clean_name(value, limit), quote=True)


def has_score(report: Report) -> bool:
    """True when the gradebook gives ``report`` a score (not an error, not a partial grading)."""
    return report.status not in NOT_A_GRADE and not report.is_partial


@dataclass
class CheckRate:
    """One check across the class: how many graded submissions passed it, and how the others
    did not."""

    key: str
    title: str
    hidden: bool
    outcomes: Counter[Outcome]
    messages: Counter[str]

    @property
    def total(self) -> int:
        """Graded submissions that hold the check."""
        return sum(self.outcomes.values())

    @property
    def passed(self) -> int:
        """Graded submissions that passed it (full points)."""
        return self.outcomes[Outcome.PASSED]

    @property
    def rate(self) -> float:
        """Passed, in percent of :attr:`total` (0 when no graded submission holds it)."""
        return 100.0 * self.passed / self.total if self.total else 0.0


def check_rates(reports: Sequence[Report]) -> list[CheckRate]:
    """Each check's rate over the reports with a score, the most failed first (then by key)."""
    rates: dict[str, CheckRate] = {}
    for report in filter(has_score, reports):
        for check in report.checks:
            key = check_key(check)
            rate = rates.setdefault(key, CheckRate(key, "", False, Counter(), Counter()))
            rate.title, rate.hidden = rate.title or check.title, rate.hidden or check.hidden
            rate.outcomes[check.outcome] += 1
            message = check.message.strip().splitlines()[0][:160] if check.message.strip() else ""
            if check.outcome in (Outcome.FAILED, Outcome.PARTIAL) and message:
                rate.messages[message] += 1
    return sorted(rates.values(), key=lambda rate: (rate.rate, rate.key))


def score_bins(reports: Sequence[Report]) -> list[int]:
    """How many complete gradings scored 0–9 %, 10–19 %, …, 90–100 % (ten bins)."""
    bins = [0] * 10
    for report in reports:
        if report.status == RunStatus.COMPLETE and has_score(report):
            bins[min(int(report.percent // 10), 9)] += 1
    return bins


def seconds(report: Report) -> float:
    """The wall time the batch recorded for the submission (else the grading's own duration)."""
    facts = report.environment.get("batch")
    value = facts.get("seconds") if isinstance(facts, dict) else None
    return float(value) if isinstance(value, int | float) else float(report.duration)


def why_apart(report: Report) -> str:
    """Why a submission is listed apart from the scores: its error, or its time-out."""
    if report.status == RunStatus.TIMED_OUT:
        return (
            f"the time limit ran out after {format_number(seconds(report))} s; the checks that "
            f"had not run score 0 ({format_number(report.score)} / "
            f"{format_number(report.max_score)} so far)"
        )
    if report.is_partial:
        return "a partial grading: not a score"
    first = report.errors[0].strip().splitlines()[0][:300] if report.errors else ""
    return first or "the grading did not finish"


def report_links(name: str, files: Collection[str] | None) -> tuple[str, str]:
    """The escaped ``href`` of the submission's most readable report and of its report.json
    (``""`` for a file it lacks, or a name that is no folder of its own). ``files``: the files
    its folder holds; None for every format the batch writes."""
    segment = quote(clean_name(name), safe="")
    if segment in ("", ".", ".."):
        return "", ""

    def href(file_name: str) -> str:
        if files is not None and file_name not in files:
            return ""
        return escape(f"submissions/{segment}/{quote(file_name)}", quote=True)

    readable = next((link for link in map(href, READABLE_FILES) if link), "")
    return readable, href(JSON_FILE)


def _check_rows(rates: Sequence[CheckRate]) -> str:
    rows = []
    for rate in rates:
        count = rate.outcomes
        did_not_run = sum(count[outcome] for outcome in DID_NOT_RUN)
        blocked = f" ({count[Outcome.BLOCKED]} blocked)" if count[Outcome.BLOCKED] else ""
        percent = format_number(rate.rate)
        bar = stacked_bar(
            [
                ("passed", rate.passed),
                ("partial", count[Outcome.PARTIAL]),
                ("failed", count[Outcome.FAILED]),
                ("blocked", did_not_run),
            ],
            label=f"{clean_name(rate.key)}: {percent} % passed",
        )
        common = ("", 0) if rate.hidden or not rate.messages else rate.messages.most_common(1)[0]
        message = f"<small>({common[1]}×)</small> {text(common[0])}" if common[1] else ""
        message = f'<span class="cut">{message}</span>'
        hidden = ' <span class="tag">hidden</span>' if rate.hidden else ""
        rows.append(
            f'<tr class="check" data-key="{text(rate.key)}">'
            f'<td title="{text(rate.title)}"><code>{text(rate.key)}</code>{hidden}'
            f'</td><td class="num"><span class="passed-count">{rate.passed}</span> / '
            f'<span class="total">{rate.total}</span></td>'
            f'<td class="num rate">{percent} %</td><td>{bar}</td>'
            f'<td class="num">{count[Outcome.PARTIAL]}</td><td class="num">'
            f'{count[Outcome.FAILED]}</td><td class="num">{did_not_run}{blocked}</td>'
            f'<td class="message" title="{text(common[0])}">{message}</td></tr>'
        )
    return "\n".join(rows) or '<tr><td colspan="8">No graded submission yet.</td></tr>'


def _files_of(files: Mapping[str, Collection[str]] | None, name: str) -> Collection[str] | None:
    return None if files is None else files.get(name, ())


def status_label(report: Report) -> str:
    """The run's status, escaped, marked when the submission was refused (nothing graded)."""
    refused = " (refused)" if report.environment.get("refused") else ""
    return f'<span class="status {report.status.value}">{report.status.value}{refused}</span>'


def _student_rows(reports: Sequence[Report], files: Mapping[str, Collection[str]] | None) -> str:
    rows = []
    for report in reports:
        readable, json_link = report_links(report.submission, _files_of(files, report.submission))
        name = text(report.submission)
        first = readable or json_link
        cell = f'<a class="name" href="{first}">{name}</a>' if first else name
        if readable and json_link:
            cell += f' <small><a href="{json_link}">report.json</a></small>'
        graded = has_score(report)
        points = format_number(report.score) if graded else "—"
        percent = f"{format_number(report.percent)} %" if graded else "—"
        rows.append(
            f'<tr class="student" data-name="{name}">'
            f'<td>{cell}</td><td class="num score"><span class="points">{points}</span> / '
            f'<span class="max">{format_number(report.max_score)}</span></td>'
            f'<td class="num percent">{percent}</td><td>{status_label(report)}</td>'
            f'<td class="num">{format_number(seconds(report))} s</td></tr>'
        )
    return "\n".join(rows) or '<tr><td colspan="5">No finished submission yet.</td></tr>'


def _apart_rows(reports: Sequence[Report], files: Mapping[str, Collection[str]] | None) -> str:
    rows = []
    for report in reports:
        if has_score(report) and report.status != RunStatus.TIMED_OUT:
            continue
        readable, json_link = report_links(report.submission, _files_of(files, report.submission))
        name = text(report.submission)
        cell = f'<a href="{readable or json_link}">{name}</a>' if readable or json_link else name
        rows.append(
            f'<tr class="apart" data-name="{name}">'
            f"<td>{cell}</td><td>{status_label(report)}</td>"
            f'<td class="num">{format_number(seconds(report))} s</td>'
            f"<td>{text(why_apart(report))}</td></tr>"
        )
    return "\n".join(rows) or '<tr><td colspan="4">None.</td></tr>'


def render_class_report(
    lab: Lab,
    reports: Sequence[Report],
    *,
    files: Mapping[str, Collection[str]] | None = None,
    when: str | None = None,
) -> str:
    """The class report of ``reports`` (the gradebook's rows, in its order) as one HTML page.
    ``files``: per submission, the report files its folder holds (None: every format);
    ``when``: the time it shows (now, by default)."""
    bins = score_bins(reports)
    scored = [r.percent for r in reports if r.status == RunStatus.COMPLETE and has_score(r)]
    statuses = Counter(report.status for report in reports)
    totals = Counter(report.max_score for report in reports)
    distribution = histogram(
        bins,
        [f"{10 * i}–{10 * i + 9}" if i < 9 else "90–100" for i in range(10)],
        title="Score distribution of the complete gradings (percent of the full total)",
    )
    times = horizontal_bars(
        [(clean_name(r.submission), seconds(r), r.status.value) for r in reports],
        title="Time per submission",
        unit="s",
    )
    return page(
        lab_id=text(lab.id),
        lab_title=text(lab.title),
        count=len(reports),
        complete=len(scored),
        timed_out=statuses[RunStatus.TIMED_OUT],
        errors=sum(1 for report in reports if not has_score(report)),
        total=format_number(totals.most_common(1)[0][0]) if totals else "0",
        mean=format_number(sum(scored) / len(scored)) if scored else "—",
        when=text(when or datetime.now(UTC).isoformat(timespec="seconds")),
        distribution=distribution,
        checks=_check_rows(check_rates(reports)),
        times=times,
        apart=_apart_rows(reports, files),
        students=_student_rows(reports, files),
    )


def folder_files(folder: Path, name: str) -> list[str]:
    """The report files the submission's folder holds (none for a name that is not one plain
    folder name)."""
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        return []
    place = folder / name
    return [file for file in (*READABLE_FILES, JSON_FILE) if (place / file).is_file()]


def write_class_report(path: Path, lab: Lab, reports: Sequence[Report], submissions: Path) -> None:
    """Write the class report of ``reports`` atomically to ``path``, linking each submission to
    the report files its folder under ``submissions`` holds."""
    files = {report.submission: folder_files(submissions, report.submission) for report in reports}
    write_text_atomically(path, render_class_report(lab, reports, files=files))
