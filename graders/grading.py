"""Run one grading: the lab's grader module in a separate pytest process, watched and cleaned up.

The grader runs in a child process so that a time limit, Ctrl-C or a crash can be handled from
outside: the child writes the JSON report check by check; this side shows live progress, enforces
the lab's time limit, and afterwards removes every Docker object labelled with the run's id. The
child grades the run's own copy of the submission (``graders.staging``), never the folder itself.

A *partial* grading (``mlops-labs grade --only N``, :mod:`graders.selection`) runs only the checks
named and the checks they require; its report is scored out of the checks it ran.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from graders.catalogue import Lab
from graders.errors import BadInput
from graders.intake import INTAKE_PROBLEMS, intake_report
from graders.report import Report, RunStatus, load_report
from graders.selection import CheckSelection, narrow
from graders.staging import stage_submission
from graders.text import clean

INI = Path(__file__).resolve().parent / "grading.ini"
GRACE_SECONDS = 30.0
# The grader's child (pytest) may hold at most this much data (heap, private writable mappings).
# Measured (docs/sandbox.md): the child peaks at 59 MB of RSS and 95 MB of data (foundation/01),
# 44 MB (professional/01): 4 GB leaves a wide margin for every lab and still stops a runaway read
# long before the machine's memory.
GRADER_DATA_LIMIT = 4 * 1024**3
_LOG_TAIL = 25


@dataclass
class GradingRun:
    """Where a run writes and what it is called."""

    lab: Lab
    submission: Path
    out_dir: Path
    run_id: str
    time_limit: float
    graded: Path | None = None  # the staged copy the child grades (None: ``submission`` itself)
    selection: CheckSelection | None = None  # a partial grading's checks (None: every check)

    @property
    def report_path(self) -> Path:
        """The canonical JSON report."""
        return self.out_dir / "report.json"

    @property
    def log_path(self) -> Path:
        """pytest's own output, for graders' authors."""
        return self.out_dir / "pytest.log"

    @property
    def events_path(self) -> Path:
        """Progress events (JSON lines) from the child."""
        return self.out_dir / ".events.jsonl"


def grader_file(lab: Lab) -> Path:
    """The file of the lab's checks: ``checks.py`` in the grader package ``lab.toml`` names."""
    try:
        spec = importlib.util.find_spec(lab.checks_module)
    except ModuleNotFoundError:
        spec = None
    if spec is None or spec.origin is None:
        raise BadInput(
            f"{lab.path / 'lab.toml'}: field 'grader' names {lab.grader!r}, which is not a "
            "package with a checks.py"
        )
    return Path(spec.origin)


def pytest_command(run: GradingRun) -> list[str]:
    """The child's command line: our ini, our plugin, no conftest, nothing from the submission."""
    module = grader_file(run.lab)
    return [
        sys.executable,
        "-m",
        "pytest",
        str(module),
        "-c",
        str(INI),
        "--rootdir",
        str(module.parent),
        "-p",
        "mlops_labs",
        "-q",
        "--mlops-submission",
        str(run.graded or run.submission),
        "--mlops-lab",
        run.lab.id,
        "--mlops-run-id",
        run.run_id,
        "--mlops-report",
        str(run.report_path),
        "--mlops-events",
        str(run.events_path),
        *(
            ["--mlops-partial", json.dumps(run.selection.report_field())]
            if run.selection is not None
            else []
        ),
    ]


def limit_memory() -> None:
    """In the grader's child, before it runs: its data (heap and private writable mappings) is
    capped at ``GRADER_DATA_LIMIT``, so that no answer, log or output it reads can take the
    machine's memory (``RLIMIT_DATA``: ``RLIMIT_AS`` would also count the address space that
    threads and allocators reserve without using)."""
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = GRADER_DATA_LIMIT if hard == resource.RLIM_INFINITY else min(GRADER_DATA_LIMIT, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def child_environment() -> dict[str, str]:
    """The environment without anything that could add pytest options or plugins."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def grade(
    lab: Lab,
    submission: Path,
    out_dir: Path,
    console: Console,
    time_limit: float | None = None,
    selection: CheckSelection | None = None,
) -> Report:
    """Grade ``submission`` against ``lab``; always returns a report, cut short if the run was.
    With a ``selection`` (:func:`select_checks`), only its checks run: a partial grading."""
    if not submission.is_dir():
        raise BadInput(f"no such folder: {submission}")
    run = GradingRun(
        lab,
        submission.resolve(),
        out_dir.resolve(),
        uuid.uuid4().hex[:12],
        time_limit or lab.time_limit_seconds,
        selection=selection,
    )
    run.out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (run.report_path, run.events_path):
        stale.unlink(missing_ok=True)
    previous = signal.getsignal(signal.SIGINT)
    try:
        with tempfile.TemporaryDirectory(prefix=f"mlops-labs-{run.run_id}-staged-") as stage:
            try:
                staged = stage_submission(lab, run.submission, Path(stage) / "submission")
            except INTAKE_PROBLEMS as problem:  # over a limit (the learner's), or no disk room
                report = intake_report(lab, str(run.submission), problem, run.run_id)
                if selection is not None:
                    narrow(report, selection)
            else:
                run.graded = staged.path
                ending = _supervise(run, console)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a 2nd Ctrl-C must not skip cleanup
                report = _final_report(run, ending)
                report.notes = staged.notes() + report.notes
        if lab.requires.docker:
            _remove_docker_objects(run.run_id, report)
        report.write(run.report_path)
        run.events_path.unlink(missing_ok=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    return report


def _supervise(run: GradingRun, console: Console) -> RunStatus | None:
    """Run the child to its end; return the status forced on it (time-out, Ctrl-C), if any."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    display = _Progress(run.events_path, console)
    with (
        tempfile.TemporaryDirectory(prefix="mlops-labs-cwd-") as cwd,
        run.log_path.open("w") as log,
    ):
        child = subprocess.Popen(
            pytest_command(run),
            cwd=cwd,
            env=child_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=limit_memory,
        )
        deadline = time.monotonic() + run.time_limit
        forced: RunStatus | None = None
        try:
            _import_checks_meanwhile(run.lab)
            while child.poll() is None:
                display.update()
                if time.monotonic() > deadline:
                    forced = RunStatus.TIMED_OUT
                    _stop(child)
                    break
                try:  # returns as soon as the child ends, not at the next tick
                    child.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping the child is not interruptible
            forced = RunStatus.INTERRUPTED
            console.print("[yellow]Interrupted: stopping the grader and cleaning up…[/]")
            _stop(child)
        finally:
            signal.signal(signal.SIGTERM, previous)
            display.update()
            display.close()
    return forced


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Ask the child to stop (SIGINT runs its teardown), then kill its whole group."""
    try:
        os.killpg(child.pid, signal.SIGINT)
        child.wait(timeout=GRACE_SECONDS)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()


def _import_checks_meanwhile(lab: Lab) -> None:
    """Import the lab's checks module while the child grades (the final report lists its checks
    from it): its imports then cost nothing after the child ends. A failure here is said where
    the report needs the module (``score_out_of_every_check``)."""
    try:
        importlib.import_module(lab.checks_module)
    except Exception:
        return


def _final_report(run: GradingRun, forced: RunStatus | None) -> Report:
    try:
        report = load_report(run.report_path)
    except (OSError, ValueError, KeyError, TypeError):
        report = Report(
            lab={"id": run.lab.id, "title": run.lab.title, "level": run.lab.level},
            submission=str(run.submission),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            status=RunStatus.ERROR,
        )
        report.errors.append(
            "the grader stopped before writing a report; pytest said:\n" + _log_tail(run)
        )
    if forced == RunStatus.TIMED_OUT:
        report.errors.append(f"the lab's time limit ({run.time_limit:.0f} s) ran out")
    if forced is not None:
        report.status = forced
    elif report.status == RunStatus.RUNNING:
        report.status = RunStatus.ERROR
        report.errors.append("the grader process died mid-run; pytest said:\n" + _log_tail(run))
    if report.status == RunStatus.ERROR and not any(c.outcome == "error" for c in report.checks):
        if not report.errors:
            report.errors.append("pytest said:\n" + _log_tail(run))
    if run.selection is None:
        from graders.checks import score_out_of_every_check  # pytest: after the child

        score_out_of_every_check(run.lab, report)
    else:
        narrow(report, run.selection)
    # a run's errors quote pytest's output and its notes name the submission's files: learner text
    report.errors = [clean(error) for error in report.errors]
    report.notes = [clean(note) for note in report.notes]
    report.finished_at = report.finished_at or datetime.now(UTC).isoformat(timespec="seconds")
    report.environment["run_id"] = run.run_id
    report.submission = str(run.submission)  # the learner's folder, not the copy that was graded
    return report


def _remove_docker_objects(run_id: str, report: Report) -> None:
    """Remove whatever the run left labelled (after Ctrl-C or a timeout the child could not)."""
    try:
        from graders.containers.cleanup import remove_run_resources
        from graders.containers.engine import connect

        client = connect(timeout=30)
    except Exception:  # no engine: nothing of ours can be left on it
        return
    try:
        removed = remove_run_resources(client, run_id)
        if removed:
            report.environment["cleanup_removed_after_run"] = removed
    finally:
        client.close()


def _log_tail(run: GradingRun) -> str:
    try:
        lines = run.log_path.read_text(errors="replace").rstrip().splitlines()
    except OSError:
        return "(no output)"
    return "\n".join(lines[-_LOG_TAIL:])


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class _Progress:
    """The live display: which check runs and what it waits for."""

    def __init__(self, events: Path, console: Console) -> None:
        self.events = events
        self.console = console
        self.offset = 0
        self.current = ""
        self.line = ""  # what the line says when the grading is not waiting for the machine
        self.index = 0
        self.status = console.status("starting the grader…") if console.is_terminal else None
        if self.status is not None:
            self.status.start()

    def update(self) -> None:
        """Read new events and show them."""
        try:
            with self.events.open(encoding="utf-8") as stream:
                stream.seek(self.offset)
                lines = stream.readlines()
                self.offset = stream.tell()
        except OSError:
            return
        for line in lines:
            if line.endswith("\n"):
                self._show(json.loads(line))
            else:  # a half-written line: read it again next time
                self.offset -= len(line.encode())

    def _show(self, event: dict[str, Any]) -> None:
        if event["event"] == "start":
            self.index += 1
            self.current = f"[{self.index}/{event.get('total', '?')}] {event['title']}"
            self.line = self.current
            self._say(self.line)
        elif event["event"] == "wait":
            what = event["what"]
            self.line = f"{self.current} — waiting for: {what}" if self.current else what
            self._say(self.line)
        elif event["event"] == "machine":  # a wait for the machine blocks (why), or ended ("")
            if event.get("why"):
                waiting = f"waiting for the machine: {event['why']}"
                self._say(f"{self.current} — {waiting}" if self.current else waiting)
            elif self.line and self.status is not None:  # a printed log needs no repeat
                self._say(self.line)

    def _say(self, text: str) -> None:
        if self.status is not None:
            self.status.update(text)
        else:
            self.console.print(text, highlight=False)

    def close(self) -> None:
        """Stop the spinner."""
        if self.status is not None:
            self.status.stop()
