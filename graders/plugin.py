"""The mlops-labs pytest plugin: checks with points, hints, gates and partial credit.

Registered through the ``pytest11`` entry point. Per-check state lives in ``item.stash`` and the
run's report in ``config.stash`` (no module-level globals), the way pytest's ``skipping.py`` works.
With ``--mlops-report PATH`` the JSON report is rewritten after every check, so a killed run
leaves a report of what finished. With ``--mlops-partial JSON`` (``mlops-labs grade --only``) only
the checks it lists are collected, and the report says it is a partial grading.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import platform
import time
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _pytest.fixtures import FixtureFunctionDefinition  # pytest >= 8.4: a fixture definition

from graders import __version__
from graders.catalogue import find_lab
from graders.checks import MARKER, MARKER_HELP, CheckSpec, spec_of, title_of
from graders.errors import BadInput
from graders.outcomes import CheckProgress, PhaseOutcome, classify
from graders.report import CheckResult, Outcome, Report, RunStatus
from graders.text import LOG_LIMIT, clean, clean_data

# loaded for every run; a service's fixtures only for a lab that declares it (see below)
FIXTURE_PLUGINS = (
    "graders.fixtures.core",
    "graders.fixtures.docker",
    "graders.fixtures.kind",
    "graders.fixtures.scenario",
)
SERVICE_FIXTURES = "graders.fixtures.{service}"


class GradingSession:
    """The state of one grading run: the report being built and where progress goes."""

    def __init__(self, config: pytest.Config) -> None:
        self.report_path: Path | None = _path_option(config, "mlops_report")
        self.events_path: Path | None = _path_option(config, "mlops_events")
        lab_name = config.getoption("mlops_lab")
        lab = {"id": "", "title": "", "level": ""}
        self.grader = ""
        self.services: tuple[str, ...] = ()
        if lab_name:
            found = find_lab(lab_name)
            lab = {"id": found.id, "title": found.title, "level": found.level}
            self.grader = found.grader
            self.services = found.requires.services
        self.report = Report(
            lab=lab,
            submission=str(config.getoption("mlops_submission") or ""),
            started_at=_now(),
            environment={
                "grader_version": __version__,
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
        )
        raw = config.getoption("mlops_partial")
        if raw:
            self.report.partial = _partial_option(raw)
        self.outcomes: dict[str, Outcome] = {}
        # how a message names a check: "check 3 (The container answers GET /health …)"
        self.check_names: dict[str, str] = {}
        self.started = time.monotonic()
        self.total_checks = 0

    def emit(self, event: str, **fields: Any) -> None:
        """Append a progress event (JSON line) for the CLI's live display."""
        if self.events_path is None:
            return
        with self.events_path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps({"event": event, "time": time.time(), **fields}) + "\n")

    def save(self) -> None:
        """Write the report as it stands."""
        self.report.duration = round(time.monotonic() - self.started, 3)
        if self.report_path is not None:
            self.report.write(self.report_path)


grading_session_key = pytest.StashKey[GradingSession]()
progress_key = pytest.StashKey[CheckProgress]()
spec_key = pytest.StashKey[CheckSpec]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``mlops-labs`` option group."""
    group = parser.getgroup("mlops-labs", "mlops-labs grading")
    group.addoption(
        "--mlops-submission", dest="mlops_submission", help="the learner's folder to grade"
    )
    group.addoption(
        "--mlops-lab", dest="mlops_lab", help="the lab id, e.g. foundation/01-containerize-model"
    )
    group.addoption(
        "--mlops-report", dest="mlops_report", help="write the JSON report here, check by check"
    )
    group.addoption(
        "--mlops-events", dest="mlops_events", help="append progress events (JSON lines) here"
    )
    group.addoption(
        "--mlops-run-id", dest="mlops_run_id", help="label for everything this run creates"
    )
    group.addoption(
        "--mlops-partial",
        dest="mlops_partial",
        help='a partial grading: JSON {"only": [criteria], "required": [criteria], "checks": '
        "[ids]}; only those checks are collected (mlops-labs grade --only)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, the fixtures, and the run's report."""
    config.addinivalue_line("markers", MARKER_HELP)
    for name in FIXTURE_PLUGINS:
        config.pluginmanager.import_plugin(name)
    try:
        config.stash[grading_session_key] = GradingSession(config)
    except BadInput as exc:
        raise pytest.UsageError(str(exc)) from None
    grading = config.stash[grading_session_key]
    for name in service_fixture_modules(grading.services):
        config.pluginmanager.import_plugin(name)
    if grading.grader:
        for name in lab_fixture_modules(grading.grader):
            config.pluginmanager.import_plugin(name)
    grading.save()


def service_fixture_modules(services: tuple[str, ...]) -> list[str]:
    """The fixture modules of the services a lab declares (``[requires] services``), e.g.
    ``graders.fixtures.mlflow`` for ``mlflow``."""
    return [SERVICE_FIXTURES.format(service=service) for service in services]


def lab_fixture_modules(package: str) -> list[str]:
    """The modules of a lab's grader package that the plugin loads as fixture plugins: its
    ``fixtures.py``, and any other module there that defines a fixture (``checks.py`` and the
    sandbox-side ``probe.py`` and ``data.py`` never do). A grader module that fails to import is
    left for collection to report as a grader error."""
    try:
        found = importlib.import_module(package)
    except ImportError:
        return []
    names = []
    for info in pkgutil.iter_modules(getattr(found, "__path__", [])):
        if info.name in ("checks", "probe", "data") or info.name.startswith("_"):
            continue
        name = f"{package}.{info.name}"
        if info.name == "fixtures" or _defines_fixtures(importlib.import_module(name)):
            names.append(name)
    return names


def _defines_fixtures(module: ModuleType) -> bool:
    return any(
        isinstance(value, FixtureFunctionDefinition)
        and getattr(value, "__module__", "") == module.__name__
        for value in vars(module).values()
    )


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Read every check's marker and verify that each prerequisite is an earlier check; in a
    partial grading, leave out every check it does not list."""
    grading = config.stash[grading_session_key]
    seen: set[str] = set()
    declared = []
    left_out: list[pytest.Item] = []
    selected = set(grading.report.partial["checks"]) if grading.report.partial else None
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            continue
        spec = spec_of(marker)
        item.stash[spec_key] = spec
        unknown = [name for name in spec.requires if name not in seen]
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: requires {unknown} which are not earlier checks in this module"
            )
        seen.add(item.name)
        grading.check_names[item.name] = f"check {spec.criterion} ({_title(item)})"
        if selected is not None and item.name not in selected:
            left_out.append(item)
            continue
        declared.append((item.name, _title(item), spec.criterion, spec.points, spec.hidden))
    if selected is not None:
        # only checks are left out: a plain test of the module (none in a grader) would stay
        items[:] = [item for item in items if item not in left_out]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
    grading.total_checks = len(declared)
    # every check is in the report from the start, as *not run* until it has run: a run cut
    # short still scores out of the lab's full total (a partial grading's: of what it selected)
    grading.report.add_not_run(declared)
    grading.save()


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A grader module that fails to import is a grader error, not a learner failure."""
    report = yield
    grading = collector.config.stash.get(grading_session_key, None)
    if report.failed and grading is not None:
        grading.report.errors.append(f"cannot collect {report.nodeid}: {report.longreprtext}")
        grading.save()
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Block a check whose prerequisites did not pass; it scores 0 and does not run."""
    if spec_key not in item.stash:
        return
    progress = item.stash.setdefault(progress_key, CheckProgress())
    grading = item.config.stash[grading_session_key]
    grading.emit("start", check=item.name, title=_title(item), total=grading.total_checks)
    for name in item.stash[spec_key].requires:
        outcome = grading.outcomes.get(name)
        if outcome == Outcome.PASSED:
            continue
        if outcome == Outcome.SKIPPED:
            progress.not_run_outcome = Outcome.SKIPPED
        elif outcome == Outcome.ERROR:
            progress.not_run_outcome = Outcome.ERROR
        else:
            progress.not_run_outcome = Outcome.BLOCKED
        what = outcome.value if outcome is not None else "not run"
        named = grading.check_names.get(name, name)
        progress.blocked_by = f"not run: it requires {named}, which did not pass ({what})"
        pytest.skip(progress.blocked_by)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Classify each phase; after teardown, record the check's result and save the report."""
    report = yield
    if spec_key not in item.stash:
        return report
    progress = item.stash.setdefault(progress_key, CheckProgress())
    if progress.not_run_outcome is None:
        progress.phases.append(classify(call, report))
    progress.duration += report.duration
    progress.logs.extend(f"--- {name} ---\n{text}" for name, text in report.sections if text)
    if call.when == "teardown":
        _record(item, progress)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Close the report: its status says whether every check ran to an outcome."""
    grading = session.config.stash.get(grading_session_key, None)
    if grading is None:
        return
    report = grading.report
    report.finished_at = _now()
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        report.status = RunStatus.INTERRUPTED
    elif report.errors or any(c.outcome == Outcome.ERROR for c in report.checks):
        report.status = RunStatus.ERROR
    elif exitstatus == pytest.ExitCode.USAGE_ERROR or exitstatus == pytest.ExitCode.INTERNAL_ERROR:
        report.status = RunStatus.ERROR
        report.errors.append(f"pytest exited with {exitstatus!r}")
    else:
        report.status = RunStatus.COMPLETE
    grading.save()
    grading.emit("finish", status=report.status.value)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """In a plain pytest run, end with the score."""
    grading = config.stash.get(grading_session_key, None)
    if grading is None or not grading.report.checks:
        return
    report = grading.report
    partial = " (partial grading: not the lab's score)" if report.is_partial else ""
    terminalreporter.write_sep(
        "=", f"mlops-labs score: {report.score:g} / {report.max_score:g}{partial}"
    )


def _record(item: pytest.Item, progress: CheckProgress) -> None:
    spec = item.stash[spec_key]
    grading = item.config.stash[grading_session_key]
    final: PhaseOutcome = progress.final()
    data = {name: value for name, value in getattr(item, "user_properties", [])}
    summary = str(data.pop("message", ""))  # a check's own one-line summary of what it measured
    points = {Outcome.PASSED: spec.points, Outcome.PARTIAL: spec.points * final.fraction}
    result = CheckResult(
        id=item.name,
        title=_title(item),
        criterion=spec.criterion,
        outcome=final.outcome,
        points=round(points.get(final.outcome, 0.0), 4),
        max_points=spec.points,
        message=clean(final.message or (summary if final.outcome == Outcome.PASSED else "")),
        hint=spec.hint if final.outcome in (Outcome.FAILED, Outcome.PARTIAL) else "",
        hidden=spec.hidden,
        duration=round(progress.duration, 3),
        logs=clean(
            "\n".join(progress.logs + ([final.traceback] if final.traceback else [])), LOG_LIMIT
        ),
        data=clean_data(data),
    )
    grading.outcomes[item.name] = final.outcome
    grading.report.record(result)
    grading.save()
    grading.emit("done", check=item.name, outcome=final.outcome.value, points=result.points)


def _title(item: pytest.Item) -> str:
    return title_of(getattr(item, "obj", None)) or item.name


def _partial_option(raw: str) -> dict[str, Any]:
    """The ``--mlops-partial`` JSON, checked: a usage error if it is not what the CLI writes."""
    try:
        partial = json.loads(raw)
        if not (
            isinstance(partial, dict)
            and all(isinstance(partial.get(key), list) for key in ("only", "required", "checks"))
        ):
            raise ValueError("not an object with the lists only, required and checks")
    except ValueError as exc:
        raise BadInput(f"--mlops-partial: {exc}") from None
    return {key: partial[key] for key in ("only", "required", "checks")}


def _path_option(config: pytest.Config, name: str) -> Path | None:
    value = config.getoption(name)
    return Path(value).resolve() if value else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
