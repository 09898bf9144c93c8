"""A CSV gradebook: one header and one row per report (rows can be stacked across reports)."""

from __future__ import annotations

import csv
import io

from graders.emitters._common import check_key, format_number, lab_id
from graders.report import Report

FIXED_COLUMNS: tuple[str, ...] = (
    "lab",
    "submission",
    "status",
    "score",
    "max_score",
    "percent",
)


def gradebook_header(report: Report) -> list[str]:
    """Column names: the fixed columns, then one ``"NN check_id"`` column per check."""
    return [*FIXED_COLUMNS, *(check_key(check) for check in report.checks)]


def gradebook_row(report: Report) -> list[str]:
    """One row matching :func:`gradebook_header`: the run's totals, then each check's points."""
    return [
        lab_id(report),
        report.submission,
        report.status.value,
        format_number(report.score),
        format_number(report.max_score),
        format_number(report.percent),
        *(format_number(check.points) for check in report.checks),
    ]


def render_gradebook(report: Report) -> str:
    """Render the header and the report's row as CSV text (``\\n`` line endings)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(gradebook_header(report))
    writer.writerow(gradebook_row(report))
    return buffer.getvalue()
