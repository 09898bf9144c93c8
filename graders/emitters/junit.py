"""JUnit XML, for CI systems that show test reports (GitLab, Jenkins, GitHub test reporters)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from graders.emitters._common import (
    OUTCOME_EXPLANATIONS,
    feedback_text,
    first_lines,
    format_number,
    format_points,
    lab_id,
    partial_label,
    public_name,
)
from graders.report import CheckResult, Outcome, Report

LOG_LINES = 200

# ANSI escape sequences (colours, cursor moves), common in container and build logs.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
# Characters XML 1.0 forbids (control characters other than tab, newline and carriage return).
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    """Drop ANSI escapes and the characters XML cannot hold."""
    return _ILLEGAL_XML.sub("", _ANSI.sub("", text))


def _seconds(value: float) -> str:
    """A duration attribute, in seconds with millisecond precision."""
    return f"{value:.3f}"


def _short_message(check: CheckResult) -> str:
    """The ``message`` attribute: one line saying what went wrong."""
    if check.hidden:
        return check.outcome.value
    first = check.message.strip().splitlines()[0] if check.message.strip() else ""
    return first or OUTCOME_EXPLANATIONS.get(check.outcome, check.outcome.value)


def _testcase(parent: ET.Element, report: Report, check: CheckResult) -> None:
    """Append one ``<testcase>`` for ``check``."""
    case = ET.SubElement(
        parent,
        "testcase",
        classname=lab_id(report),
        name=public_name(check),
        time=_seconds(check.duration),
    )
    properties = ET.SubElement(case, "properties")
    for name, value in (
        ("criterion", str(check.criterion)),
        ("outcome", check.outcome.value),
        ("points", format_number(check.points)),
        ("max_points", format_number(check.max_points)),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    if check.outcome in (Outcome.FAILED, Outcome.PARTIAL):
        element = ET.SubElement(case, "failure", message=_clean(_short_message(check)))
        element.set("type", check.outcome.value)
        element.text = _clean(feedback_text(check))
    elif check.outcome == Outcome.ERROR:
        element = ET.SubElement(case, "error", message=_clean(_short_message(check)))
        element.set("type", check.outcome.value)
        element.text = _clean(feedback_text(check))
    elif check.outcome in (Outcome.BLOCKED, Outcome.SKIPPED, Outcome.NOT_RUN):
        element = ET.SubElement(case, "skipped", message=_clean(_short_message(check)))
        element.set("type", check.outcome.value)
    if not check.hidden:
        out = f"{check.title}\npoints: {format_points(check)}"
        if check.logs.strip():
            out += "\n\n" + first_lines(check.logs, LOG_LINES)
        ET.SubElement(case, "system-out").text = _clean(out)


def render_junit(report: Report) -> str:
    """Render the report as a JUnit XML document (one testsuite named after the lab)."""
    counts = {
        "tests": len(report.checks),
        "failures": sum(c.outcome in (Outcome.FAILED, Outcome.PARTIAL) for c in report.checks),
        "errors": sum(c.outcome == Outcome.ERROR for c in report.checks),
        "skipped": sum(
            c.outcome in (Outcome.BLOCKED, Outcome.SKIPPED, Outcome.NOT_RUN) for c in report.checks
        ),
    }
    attributes = {key: str(value) for key, value in counts.items()}
    attributes["time"] = _seconds(report.duration)
    root = ET.Element("testsuites", {"name": lab_id(report), **attributes})
    suite = ET.SubElement(
        root, "testsuite", {"name": lab_id(report), "timestamp": report.started_at, **attributes}
    )
    if report.is_partial:  # a partial grading (--only): its score is not the learner's
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="partial", value=partial_label(report))
    for check in report.checks:
        _testcase(suite, report, check)
    if report.errors:
        ET.SubElement(suite, "system-err").text = _clean("\n".join(report.errors))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
