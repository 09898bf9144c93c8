"""A CSV gradebook: one header and one row per report (rows can be stacked across reports)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from graders.emitters._common import check_key, format_number, lab_id, partial_label
from graders.report import Outcome, Report, RunStatus

FIXED_COLUMNS: tuple[str, ...] = (
    "lab",
    "submission",
    "status",
    "score",
    "max_score",
    "percent",
)

#: A check's cell when the grading ended before it ran: it scored 0 of its points, and says so.
NOT_RUN_CELL = "not run"

#: The last column of a partial grading's row (``--only``): it says the row is not a grade.
PARTIAL_COLUMN = "partial"


def gradebook_header(report: Report) -> list[str]:
    """Column names: the fixed columns, then one ``"NN check_id"`` column per check; a partial
    grading's ends with a ``partial`` column."""
    partial = [PARTIAL_COLUMN] if report.is_partial else []
    return [*FIXED_COLUMNS, *(check_key(check) for check in report.checks), *partial]


def gradebook_row(report: Report) -> list[str]:
    """One row matching :func:`gradebook_header`: the run's totals, then each check's points
    (and, for a partial grading, what it graded: ``partial grading (--only 3): not your
    score``)."""
    partial = [partial_label(report)] if report.is_partial else []
    return [
        lab_id(report),
        report.submission,
        report.status.value,
        format_number(report.score),
        format_number(report.max_score),
        format_number(report.percent),
        *(
            NOT_RUN_CELL if check.outcome == Outcome.NOT_RUN else format_number(check.points)
            for check in report.checks
        ),
        *partial,
    ]


def render_gradebook(report: Report) -> str:
    """Render the header and the report's row as CSV text (``\\n`` line endings)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(gradebook_header(report))
    writer.writerow(gradebook_row(report))
    return buffer.getvalue()


#: Run statuses whose points are not a grade: the grader or the machine broke (or the run never
#: finished). Their score and percent cells stay empty, so no spreadsheet averages them in.
NOT_A_GRADE: frozenset[RunStatus] = frozenset(
    {RunStatus.ERROR, RunStatus.INTERRUPTED, RunStatus.RUNNING}
)


def render_class_gradebook(reports: Sequence[Report]) -> str:
    """Render many reports as one gradebook: one header (the fixed columns, then every check any
    report holds, in criterion order) and one row per report, in the order given. A check a
    report does not hold is an empty cell; so are the score and percent of a run in
    :data:`NOT_A_GRADE` and of a partial grading (which adds the ``partial`` column)."""
    checks = sorted({check_key(check) for report in reports for check in report.checks})
    partial = [PARTIAL_COLUMN] if any(report.is_partial for report in reports) else []
    header = [*FIXED_COLUMNS, *checks, *partial]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for report in reports:
        cells = dict(zip(gradebook_header(report), gradebook_row(report), strict=True))
        if report.status in NOT_A_GRADE or report.is_partial:
            cells["score"] = cells["percent"] = ""
        writer.writerow([cells.get(column, "") for column in header])
    return buffer.getvalue()
