"""``OUT/class-report.html``: the instructor's class overview, one self-contained page.

The fast tests render synthetic classes and read the page back with ``html.parser``; the browser
test opens a realistic class's page in a real headless Chromium (Debian's ``chromium``), reads
its DOM and takes a screenshot. Regenerate the README's screenshot, ``docs/class-report.png``, with

    MLOPS_LABS_UPDATE_SCREENSHOT=1 .venv/bin/pytest -p no:cacheprovider -n 0 \\
        tests/test_class_report.py -k chromium
"""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from graders.batch.books import BatchFolder, finish_report, write_books
from graders.batch.class_report import render_class_report, write_class_report
from graders.catalogue import Lab, find_lab
from graders.emitters.gradebook import render_class_gradebook
from graders.report import CheckResult, Outcome, Report, RunStatus
from tests.conftest import FIXTURES, REPO

TINY = find_lab("foundation/01-tiny-lab", FIXTURES / "labs")
REAL = find_lab("foundation/01-containerize-model", REPO / "labs")
#: The real lab's checks (criterion, id, points): the realistic class is graded against them.
REAL_CHECKS = [
    (1, "test_image_builds", 10),
    (2, "test_base_image_pinned_and_hadolint_clean", 8),
    (3, "test_health_answers_within_20s", 8),
    (4, "test_predict_matches_reference_model", 12),
    (5, "test_bad_input_gets_4xx_never_5xx", 10),
    (6, "test_runs_as_non_root_with_read_only_root_fs", 10),
    (7, "test_respects_port_variable", 6),
    (8, "test_build_context_excludes_data_git_notebooks_tests", 6),
    (9, "test_sigterm_exits_cleanly_finishing_inflight_request", 8),
    (10, "test_dependencies_pinned_and_installed", 8),
    (11, "test_image_weight_within_budget", 6),
    (12, "test_latency_under_load", 8),
]
#: What each of those checks says when it fails (the realistic class's messages).
REAL_FAILURES = [
    "docker build failed at step 4/9: no matching distribution for scikit-learn==9.9",
    "hadolint DL3007: using latest is prone to errors",
    "GET /health did not answer 200 within 20 s",
    "/predict disagrees with the reference model on 37 of 200 rows",
    "POST /predict with a string feature answered 500",
    "the container runs as root (uid 0)",
    "PORT=9090, but the server listened on 8080",
    ".dockerignore leaves data/ in the build context (412 MB)",
    "SIGTERM: the in-flight request got a connection reset",
    "requirements.txt: fastapi is not pinned to a version",
    "the image weighs 1.9 GB, over the 800 MB budget",
    "p95 latency 740 ms under load, over the 250 ms budget",
]
HOSTILE_NAMES = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "../../etc"]
HOSTILE_MESSAGE = '<script>alert(3)</script> "><img src=x onerror=alert(4)> https://evil.example/'
HIDDEN_MESSAGE = "the hidden probe found SECRET_TOKEN in layer 3"
#: The only elements and attributes a class report may hold.
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "span", "b", "i"}
TAGS |= {"code", "small", "br", "table", "thead", "tbody", "tr", "th", "td", "a", "svg", "rect"}
TAGS |= {"line", "text"}
ATTRIBUTES = {"lang", "charset", "http-equiv", "content", "name", "class", "id", "href", "title"}
ATTRIBUTES |= {"colspan", "data-key", "data-name", "width", "height", "viewbox", "x", "y"}
ATTRIBUTES |= {"x1", "y1", "x2", "y2", "text-anchor", "role"}
SMALL_POINTS = {"01 test_1": 2.0, "02 test_2": 2.0, "03 test_3": 1.0}
_VOID = {"meta", "br", "link", "img", "input", "hr"}


def student(name: str, status: RunStatus, checks: list[CheckResult], **kw: Any) -> Report:
    """A finished batch report of ``name`` (``seconds``: what its batch facts say it took)."""
    seconds = kw.pop("seconds", 30.0)
    return Report(
        {"id": TINY.id, "title": TINY.title},
        name,
        "2026-01-01T00:00:00+00:00",
        status=status,
        checks=checks,
        environment={"batch": {"seconds": seconds}},
        **kw,
    )


def small_checks(*outcomes: Outcome) -> list[CheckResult]:
    """Checks 1, 2 (2 points each) and hidden check 3 (1 point) with these outcomes: a pass
    scores full points, a partial 1, anything else 0; a failure says something."""
    checks = []
    for criterion, outcome in enumerate(outcomes, 1):
        full = SMALL_POINTS[f"0{criterion} test_{criterion}"]
        got = {Outcome.PASSED: full, Outcome.PARTIAL: 1.0}.get(outcome, 0.0)
        message = {Outcome.FAILED: HIDDEN_MESSAGE if criterion == 3 else HOSTILE_MESSAGE}
        checks.append(
            CheckResult(
                f"test_{criterion}",
                f"Check {criterion}",
                criterion,
                outcome,
                got,
                full,
                message=message.get(outcome, ""),
                hidden=criterion == 3,
            )
        )
    return checks


def small_class() -> list[Report]:
    """alice passes all; bob fails check 2; carol fails check 1, which blocks the rest; dave
    gets part of check 2 and times out before check 3; erin's grading errs; frank is refused
    (complete, nothing graded); gina fails checks 2 and the hidden 3. Of the 6 with a score,
    check 1 is passed by 4, check 2 by 1 and check 3 by 2."""
    P, F, B, N = Outcome.PASSED, Outcome.FAILED, Outcome.BLOCKED, Outcome.NOT_RUN
    H = Outcome.PARTIAL
    done = RunStatus.COMPLETE
    frank = student("frank", done, small_checks(N, N, N), seconds=0.0, notes=["over a limit"])
    frank.environment["refused"] = True
    return [
        student("alice", done, small_checks(P, P, P), seconds=41.5),
        student("bob", done, small_checks(P, F, P), seconds=38.0),
        student("carol", done, small_checks(F, B, B), seconds=12.0),
        student("dave", RunStatus.TIMED_OUT, small_checks(P, H, N), seconds=60.0),
        student("erin", RunStatus.ERROR, small_checks(N, N, N), errors=["engine gone\nmore"]),
        frank,
        student("gina", done, small_checks(P, F, F), seconds=50.0),
    ]


class PageReader(HTMLParser):
    """A class report read back: every element with its attributes, and every text with the
    classes of the elements around it; the ``check``, ``student`` and ``apart`` table rows, each
    as its attributes plus the text of each class inside it (``text``: all of it)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[tuple[frozenset[str], str]] = []
        self.rows: list[dict[str, str]] = []
        self.open: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append((tag, values))
        classes = values.get("class", "").split()
        if tag == "tr" and classes and classes[0] in ("check", "student", "apart"):
            self.rows.append({"kind": classes[0], "text": "", "links": "", **values})
        if tag == "a" and self.rows and any(t == "tr" for t, _ in self.open):
            self.rows[-1]["links"] += values.get("href", "") + " "
        if tag not in _VOID:
            self.open.append((tag, classes))

    def handle_endtag(self, tag: str) -> None:
        while self.open and tag in (t for t, _ in self.open):
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        classes = frozenset(name for _, names in self.open for name in names)
        self.texts.append((classes, data))
        if self.rows and any(t == "tr" for t, _ in self.open):
            row = self.rows[-1]
            row["text"] += data + " "
            for name in classes:
                row[name] = row.get(name, "") + data

    def of(self, kind: str) -> list[dict[str, str]]:
        """The rows of one kind, in page order."""
        return [row for row in self.rows if row["kind"] == kind]

    def histogram(self) -> list[int]:
        """The bar counts of the score distribution."""
        return [int(text) for classes, text in self.texts if {"histogram", "count"} <= classes]


def read_page(text: str) -> PageReader:
    """The page, parsed."""
    reader = PageReader()
    reader.feed(text)
    reader.close()
    return reader


def parse_gradebook(text: str) -> list[dict[str, str]]:
    """A gradebook's rows."""
    return list(csv.DictReader(io.StringIO(text)))


def assert_page_equals_gradebook(
    reader: PageReader, gradebook: list[dict[str, str]], points: dict[str, float]
) -> None:
    """Each submission's score, maximum, percent and status, and each check's pass count, rate
    and place (most failed first), as the gradebook has them (``points``: each check's full
    points; a check is passed where its cell is its full points)."""
    students = {row["data-name"]: row for row in reader.of("student")}
    assert list(students) == [row["submission"] for row in gradebook]
    for row in gradebook:
        shown = students[row["submission"]]
        assert shown["points"].strip() == (row["score"] or "—"), row["submission"]
        assert shown["max"].strip() == row["max_score"]
        assert shown["percent"].strip() == (f"{row['percent']} %" if row["percent"] else "—")
        assert shown["status"].split()[0] == row["status"]
    expected = {}
    for column, full in points.items():
        held = [row[column] for row in gradebook if row["score"] and row[column] != ""]
        passed = sum(1 for cell in held if cell != "not run" and float(cell) == full)
        expected[column] = (passed, len(held), round(100 * passed / len(held), 2))
    checks = reader.of("check")
    shown_rates = {
        row["data-key"]: (int(row["passed-count"]), int(row["total"]), float(row["rate"][:-2]))
        for row in checks
    }
    assert shown_rates == expected
    order = [row["data-key"] for row in checks]
    assert order == sorted(expected, key=lambda key: (expected[key][2], key)), "most failed first"


def assert_self_contained(reader: PageReader, page: str) -> None:
    """No script, no handler, no element or attribute beyond the page's own, no external
    resource: every link is one of a submission's report files."""
    assert "<script" not in page.lower() and "<img" not in page.lower()
    for tag, attributes in reader.elements:
        assert tag in TAGS, tag
        assert set(attributes) <= ATTRIBUTES, (tag, attributes)
        href = attributes.get("href", "")
        assert "//" not in href and ":" not in href, href
        if tag == "a":
            folder, segment, file_name = attributes["href"].split("/")
            assert folder == "submissions" and segment not in ("", ".", "..")
            assert file_name in ("step-summary.md", "junit.xml", "report.json")
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style and "@import" not in style and "//" not in style


def test_small_class_page_has_the_gradebooks_scores_and_pass_rates() -> None:
    reports = small_class()
    reader = read_page(render_class_report(TINY, reports, when="2026-01-01T12:00:00+00:00"))
    gradebook = parse_gradebook(render_class_gradebook(reports))
    assert_page_equals_gradebook(reader, gradebook, SMALL_POINTS)
    checks = {row["data-key"]: row for row in reader.of("check")}
    assert list(checks) == ["02 test_2", "03 test_3", "01 test_1"]
    assert (checks["02 test_2"]["passed-count"], checks["02 test_2"]["total"]) == ("1", "6")
    assert "2 (1 blocked)" in checks["02 test_2"]["text"], "carol's blocked, frank's not run"
    assert "hidden" in checks["03 test_3"]["tag"]
    students = {row["data-name"]: row for row in reader.of("student")}
    assert "41.5 s" in students["alice"]["text"] and "60 s" in students["dave"]["text"]


def test_errors_and_time_outs_are_listed_apart_and_left_out_of_the_distribution() -> None:
    reader = read_page(render_class_report(TINY, small_class()))
    apart = reader.of("apart")
    assert [row["data-name"] for row in apart] == ["dave", "erin"]
    assert (
        "time limit ran out after 60 s" in apart[0]["text"] and "3 / 5 so far" in apart[0]["text"]
    )
    assert "engine gone" in apart[1]["text"] and "more" not in apart[1]["text"]
    assert reader.histogram() == [2, 0, 0, 0, 1, 0, 1, 0, 0, 1], "carol, frank: 0 %; gina 40 %"
    students = {row["data-name"]: row for row in reader.of("student")}
    assert students["erin"]["points"] == "—" and students["erin"]["max"] == "5"
    assert students["frank"]["status"] == "complete (refused)"


def test_hidden_checks_are_named_by_key_and_their_messages_never_shown() -> None:
    page = render_class_report(TINY, small_class())
    assert "03 test_3" in page and "SECRET_TOKEN" not in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page, "a visible check's common message"


def test_hostile_names_and_messages_are_escaped_text_and_one_link_segment() -> None:
    failed = [Outcome.FAILED] * 3
    reports = [student(name, RunStatus.COMPLETE, small_checks(*failed)) for name in HOSTILE_NAMES]
    reports.append(student("..", RunStatus.ERROR, small_checks(*[Outcome.NOT_RUN] * 3)))
    reports[-1].errors.append(HOSTILE_MESSAGE)
    page = render_class_report(TINY, reports)
    reader = read_page(page)
    assert_self_contained(reader, page)
    students = reader.of("student")
    assert [row["data-name"] for row in students] == [*HOSTILE_NAMES, ".."]
    for row in students[:3]:
        links = row["links"].split()
        assert [unquote(link.split("/")[1]) for link in links] == [row["data-name"]] * 2
        assert row["text"].startswith(row["data-name"]), "the name shown as text, as it is"
    assert students[3]["links"] == "", "a name that is no folder of its own gets no link"
    assert HOSTILE_MESSAGE in reader.of("apart")[0]["text"]


def test_a_report_with_escape_sequences_and_broken_unicode_still_makes_a_page(
    tmp_path: Path,
) -> None:
    checks = small_checks(Outcome.FAILED, Outcome.PASSED, Outcome.PASSED)
    checks[0].message = "\x1b]0;owned\x07\x1b[31mred\udc80\x00 text"
    reports = [
        student("alice", RunStatus.COMPLETE, checks),
        student("bob", RunStatus.ERROR, small_checks(*[Outcome.NOT_RUN] * 3), errors=["g\udcff"]),
    ]
    write_class_report(tmp_path / "class-report.html", TINY, reports, tmp_path / "submissions")
    page = (tmp_path / "class-report.html").read_text(encoding="utf-8")
    assert "\x1b" not in page and "\x00" not in page and "owned" not in page
    assert "red\ufffd text" in page and "g\ufffd" in page


def test_links_lead_to_the_most_readable_report_file_that_exists(tmp_path: Path) -> None:
    have = {
        "alice": ["step-summary.md", "junit.xml", "report.json"],
        "bob": ["junit.xml", "report.json"],
        "carol": ["report.json"],
        "Zo%C3%AB": ["step-summary.md", "report.json"],
    }
    for name, files in have.items():
        (tmp_path / "submissions" / name).mkdir(parents=True)
        for file_name in files:
            (tmp_path / "submissions" / name / file_name).write_text("x")
    reports = [student(n, RunStatus.COMPLETE, small_checks(*[Outcome.PASSED] * 3)) for n in have]
    write_class_report(tmp_path / "class-report.html", TINY, reports, tmp_path / "submissions")
    page = (tmp_path / "class-report.html").read_text(encoding="utf-8")
    links = {row["data-name"]: row["links"].split() for row in read_page(page).of("student")}
    assert links == {
        "alice": ["submissions/alice/step-summary.md", "submissions/alice/report.json"],
        "bob": ["submissions/bob/junit.xml", "submissions/bob/report.json"],
        "carol": ["submissions/carol/report.json"],
        "Zo%C3%AB": [
            "submissions/Zo%25C3%25AB/step-summary.md",
            "submissions/Zo%25C3%25AB/report.json",
        ],
    }
    for name, hrefs in links.items():
        assert all((tmp_path / unquote(href)).is_file() for href in hrefs), name


def batch_of(reports: list[Report], lab: Lab, out: BatchFolder) -> list[Report]:
    """Record ``reports`` as a batch does (every format, then the books); the gradebook's rows."""
    for report in reports:
        seconds = report.environment["batch"]["seconds"]
        facts = {"fingerprint": "f", "commit": "", "seconds": seconds}
        finish_report(report, out.reports(report.submission), report.submission, facts)
    return write_books(lab, out, [report.submission for report in reports])


def test_write_books_rebuilds_the_page_with_the_gradebook_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    out = BatchFolder(tmp_path / "out")
    reports = small_class()
    batch_of(reports[:2], TINY, out)
    assert [row["data-name"] for row in read_page(out.class_report.read_text()).of("student")] == [
        "alice",
        "bob",
    ]
    batch_of(reports, TINY, out)
    page = out.class_report.read_text(encoding="utf-8")
    reader = read_page(page)
    assert_page_equals_gradebook(reader, parse_gradebook(out.gradebook.read_text()), SMALL_POINTS)
    assert_self_contained(reader, page)
    for row in reader.of("student"):
        assert all((out.root / unquote(href)).is_file() for href in row["links"].split())
    assert not [p.name for p in out.root.iterdir() if p.name.startswith(".")], "no temporary"


def realistic_class() -> list[Report]:
    """Twelve learners of the containerize-model lab: nine complete gradings of mixed skill (one
    whose image never builds, so every other check is blocked), one time-out, two errors."""
    rng = random.Random(2026)
    hard = {12: 0.45, 9: 0.55, 6: 0.7, 11: 0.75, 5: 0.8, 4: 0.85}
    names = "amara ben chloe dmitri elif farid grace hiro ines jonas kofi lena".split()
    reports = []
    for name in names:
        skill = rng.uniform(0.55, 1.0)
        status = {"dmitri": RunStatus.ERROR, "hiro": RunStatus.ERROR}.get(name, RunStatus.COMPLETE)
        status = RunStatus.TIMED_OUT if name == "kofi" else status
        checks = []
        for criterion, check_id, points in REAL_CHECKS:
            if status == RunStatus.ERROR or (status == RunStatus.TIMED_OUT and criterion > 8):
                outcome = Outcome.NOT_RUN
            elif criterion > 1 and (name == "ines" or checks[0].outcome != Outcome.PASSED):
                outcome = Outcome.BLOCKED
            elif criterion == 1:
                outcome = Outcome.FAILED if name == "ines" else Outcome.PASSED
            else:
                roll = rng.random() / (skill * hard.get(criterion, 1.0))
                outcome = Outcome.PASSED if roll < 0.9 else Outcome.FAILED
                if outcome == Outcome.FAILED and criterion in (4, 12) and roll < 1.3:
                    outcome = Outcome.PARTIAL
            got = {Outcome.PASSED: points, Outcome.PARTIAL: points / 2}.get(outcome, 0.0)
            failed = outcome in (Outcome.FAILED, Outcome.PARTIAL)
            message = REAL_FAILURES[criterion - 1] if failed else ""
            title = check_id.removeprefix("test_").replace("_", " ").capitalize()
            checks.append(
                CheckResult(check_id, title, criterion, outcome, got, points, message=message)
            )
        errors = {
            "dmitri": ["the Docker engine stopped answering during the grading"],
            "hiro": ["the grading stopped without a final report; it said: Killed"],
        }.get(name, [])
        seconds = {RunStatus.ERROR: rng.uniform(20, 80), RunStatus.TIMED_OUT: 900.0}
        report = student(name, status, checks, errors=errors)
        report.lab = {"id": REAL.id, "title": REAL.title}
        report.environment["batch"]["seconds"] = round(
            seconds.get(status, rng.uniform(150, 480)), 1
        )
        reports.append(report)
    return reports


BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM = next(filter(None, map(shutil.which, BROWSERS)), None)


def chromium(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with its own profile, on no display."""
    command = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu"]
    command += ["--no-first-run", "--hide-scrollbars", f"--user-data-dir={home / 'profile'}"]
    env = {**os.environ, "HOME": str(home)}
    env.pop("DISPLAY", None)
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


@pytest.mark.browser
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary on PATH (Debian: apt-get install -y chromium): page not rendered",
)
def test_chromium_renders_the_class_page_with_the_gradebooks_numbers(tmp_path: Path) -> None:
    out = BatchFolder(tmp_path / "out")
    batch_of(realistic_class(), REAL, out)
    url = out.class_report.resolve().as_uri()
    dom = chromium("--dump-dom", url, home=tmp_path)
    assert dom.returncode == 0 and "</html>" in dom.stdout, dom.stderr[-2000:]
    reader = read_page(dom.stdout)
    points = {f"{c:02d} {check_id}": float(p) for c, check_id, p in REAL_CHECKS}
    assert_page_equals_gradebook(reader, parse_gradebook(out.gradebook.read_text()), points)
    assert [row["data-name"] for row in reader.of("apart")] == ["dmitri", "hiro", "kofi"]
    assert sum(reader.histogram()) == 9
    assert sum(1 for tag, _ in reader.elements if tag == "svg") == 2 + len(REAL_CHECKS)

    shot = tmp_path / "class-report.png"
    taken = chromium(f"--screenshot={shot}", "--window-size=1280,2000", url, home=tmp_path)
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 20_000 < shot.stat().st_size < 300_000, "a page was drawn, and it stays small"
    if os.environ.get("MLOPS_LABS_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, REPO / "docs" / "class-report.png")
