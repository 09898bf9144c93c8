"""Learner text is data: escape sequences, control characters and invalid Unicode never reach a
report or a terminal, and a flood of output is bounded (graders/text.py, graders/plugin.py)."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from graders.emitters import (
    print_report,
    render_github,
    render_gradebook,
    render_gradescope,
    render_junit,
    render_prairielearn,
)
from graders.report import Report
from graders.text import clean, clean_data, clean_name

HOSTILE = (
    "\x1b]0;pwned title\x07"  # OSC: set the terminal's title
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    "\x1b[2J\x1b[H"  # clear the screen, cursor home
    "\x1b[31mred\x1b[0m"
    "\x9b31m"  # 8-bit CSI
    "\x00nul\x07bel\x08bs\x7fdel\x85nel"
    "\ud800lone-surrogate\udcff"  # as os.fsdecode makes of undecodable bytes
    "\r\nline two\ttabbed"
)


def test_clean_removes_every_escape_sequence_and_control_but_newline_and_tab() -> None:
    cleaned = clean(HOSTILE)
    assert "\x1b" not in cleaned and "\x9b" not in cleaned and "\r" not in cleaned
    assert not any(ord(c) < 32 and c not in "\n\t" for c in cleaned)
    assert not any(0x7F <= ord(c) <= 0x9F for c in cleaned)
    assert "pwned" not in cleaned and "evil.example" not in cleaned  # the sequences' payloads
    assert "red" in cleaned and "link" in cleaned and "line two\ttabbed" in cleaned
    cleaned.encode("utf-8")  # valid Unicode: lone surrogates replaced
    assert "\ufffdlone-surrogate\ufffd" in cleaned


def test_clean_bounds_the_length_and_keeps_the_head_and_the_tail() -> None:
    text = "FIRST" + "x" * 1_000_000 + "LAST"
    cleaned = clean(text, limit=1_000)
    assert len(cleaned) <= 1_000
    assert cleaned.startswith("FIRST") and cleaned.endswith("LAST")
    assert "characters cut" in cleaned


def test_clean_name_shows_newlines_and_tabs_escaped_on_one_line() -> None:
    assert clean_name("evil\nname\t.py") == "evil\\nname\\t.py"
    assert "\n" not in clean_name("a\r\nb\x1b[31mc")


def test_clean_data_cleans_nested_strings_and_keys_and_keeps_numbers() -> None:
    data = {"tag\x1b[31m": ["\ud800", {"k": "v\x07"}], "p95": 9.5, "ok": True}
    assert clean_data(data) == {"tag": ["\ufffd", {"k": "v"}], "p95": 9.5, "ok": True}


@pytest.fixture
def hostile_report(pytester: pytest.Pytester) -> Report:
    """A real grading whose checks fail with, record and print hostile learner text."""
    pytester.makepyfile(
        test_grader=f"""
from graders.checks import check

HOSTILE = {HOSTILE!r}

@check(1, points=1, hint="h")
def test_fails_quoting_the_learner(record_property):
    record_property("tag", HOSTILE)
    print(HOSTILE * 5000)  # a flood of captured output
    assert False, "the service answered: " + HOSTILE * 2000

@check(2, points=1, hint="h")
def test_passes_with_a_summary(record_property):
    record_property("message", "measured " + HOSTILE)
"""
    )
    path = pytester.path / "report.json"
    pytester.runpytest_subprocess("--mlops-report", str(path))
    raw = path.read_text(encoding="utf-8")
    assert "\\u001b" not in raw and "\\ud800" not in raw  # nothing hostile stored, even escaped
    from graders.report import load_report

    return load_report(path)


def test_a_recorded_check_holds_only_cleaned_bounded_learner_text(hostile_report: Report) -> None:
    failed, passed = hostile_report.checks
    for text in (failed.message, failed.logs, str(failed.data), passed.message):
        assert "\x1b" not in text and "\x07" not in text
        text.encode("utf-8")
    assert len(failed.message) <= 8_000 and len(failed.logs) <= 64_000
    assert failed.message.startswith("the service answered: linkred")


def test_every_emitter_renders_hostile_learner_text_without_crashing_or_escapes(
    hostile_report: Report,
) -> None:
    for render in (
        render_junit,
        render_gradescope,
        render_prairielearn,
        render_github,
        render_gradebook,
    ):
        assert "\x1b" not in render(hostile_report)
    json.dumps(hostile_report.to_dict(), ensure_ascii=False).encode("utf-8")
    console = Console(record=True, width=100, force_terminal=True)
    print_report(hostile_report, console)
    shown = console.export_text(styles=False)
    assert "\x1b]" not in shown and "\x1b[2J" not in shown and "pwned" not in shown
