"""The gradings of a batch, started and watched from the main thread.

Each submission is graded by its own ``mlops-labs grade`` child process (``grade()`` owns signal
handlers, so it must be a main thread's), on a private copy, with its own run id — so its
containers, networks, volumes and namespaces never meet another's — and the time limit. The
children's environment points ``MLOPS_LABS_HOME`` into the output folder and, with ``-j`` above 1,
shares the machine through ``graders.timing``. No threads: so a child can ask the kernel for
SIGTERM when the batch dies (Linux), and it inherits the batch's lock and holds it until it has
stopped and removed its Docker objects.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rich.console import Console

from graders.batch.books import FILE_FORMATS, BatchFolder, error_report, finish_report, write_books
from graders.batch.progress import BatchProgress
from graders.batch.submissions import Prepared, Submission, prepare
from graders.catalogue import Lab
from graders.errors import GraderError
from graders.intake import SubmissionRefused, intake_report
from graders.report import Report, RunStatus
from graders.timing import MACHINE_LOCK

STOP_GRACE = 90.0  # a stopped grading stops its pytest (30 s) and removes its Docker objects
_POLL = 0.2


def require_engine() -> None:
    """Fail fast, before grading anyone into an error, when no Docker engine answers."""
    from graders.containers.engine import connect

    connect(timeout=15).close()


def engine_answers() -> bool:
    """True when a Docker engine answers."""
    try:
        require_engine()
    except GraderError:
        return False
    return True


#: Files GitHub Actions gives a step to append to: a batch's gradings write to none of them.
CI_STEP_FILES = frozenset({"GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"})


@dataclass
class _Grading:
    """One child grading in flight."""

    name: str
    prepared: Prepared
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    started: float = field(default_factory=time.monotonic)


class Scheduler:
    """Start up to ``jobs`` gradings at a time and watch them, from the main thread."""

    def __init__(
        self,
        lab: Lab,
        jobs: int,
        time_limit: float | None,
        out: BatchFolder,
        console: Console,
        *,
        books: list[str] | None,
        lock: int | None = None,
    ) -> None:
        self.lab = lab
        self.jobs = jobs
        self.out = out
        self.console = console
        self.books = books
        self.lock = lock
        self.limit = time_limit or float(lab.time_limit_seconds)
        self.running: dict[str, _Grading] = {}
        self.halted = ""

    def run(self, plan: list[Submission]) -> str:
        """Grade ``plan``; return "" when done, "interrupted", or why the batch halted."""
        progress = BatchProgress(self.console, len(plan), self.jobs)
        pending = list(plan)
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            while (pending and not self.halted) or self.running:
                while pending and not self.halted and len(self.running) < self.jobs:
                    self._start(pending.pop(0), progress)
                for name in [n for n, g in self.running.items() if g.process.poll() is not None]:
                    self._finish(self.running.pop(name), progress)
                for name in [n for n, g in self.running.items() if self._overdue(g)]:
                    _stop([self.running[name].process])
                    problem = f"the grading did not stop within {self.limit:g} s + grace"
                    self._finish(self.running.pop(name), progress, problem)
                if self.halted and self.running:
                    self._stop_all(progress)
                progress.refresh()
                time.sleep(_POLL)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping must not be interrupted
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            progress.say("Interrupted: stopping the gradings and cleaning up…")
            self.halted = "interrupted"
            self._stop_all(progress)
        finally:
            progress.close()
            signal.signal(signal.SIGTERM, previous)
        return self.halted

    def _start(self, submission: Submission, progress: BatchProgress) -> None:
        """Copy ``submission`` and start its grading; a refused submission gets its final report
        at once, and any fault while preparing it becomes its error row: the batch goes on."""
        started = time.monotonic()
        copy = self.out.work / submission.name
        try:
            folder = self.out.reports(submission.name)
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            prepared = prepare(submission, copy)
            self.running[submission.name] = self._launch(submission.name, prepared, started)
        except SubmissionRefused as refused:  # over a limit, or a repository not its own
            report = intake_report(self.lab, submission.name, refused)
        except Exception as exc:
            reason = f"could not prepare the grading: {type(exc).__name__}: {exc}"
            report = error_report(self.lab, submission.name, reason)
        else:
            progress.started_grading(submission.name)
            return
        shutil.rmtree(copy, ignore_errors=True)
        self._record(submission.name, report, {"seconds": 0.0}, progress, started)

    def _launch(self, name: str, prepared: Prepared, started: float) -> _Grading:
        folder = self.out.reports(name)
        log = (folder / "grade.log").open("wb")
        try:
            process = subprocess.Popen(
                self._command(prepared.path, folder),
                cwd=folder,  # never the submission: `python -m` would import from there
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=() if self.lock is None else (self.lock,),
                preexec_fn=_die_with(os.getpid()),
            )
        except BaseException:
            log.close()
            raise
        return _Grading(name, prepared, process, log, started)

    def _command(self, submission: Path, folder: Path) -> list[str]:
        return [
            sys.executable,
            "-P",
            "-m",
            "graders.cli",
            "grade",
            self.lab.id,
            str(submission),
            "--out",
            str(folder),
            "--format",
            ",".join(FILE_FORMATS),
            "--time-limit",
            f"{self.limit:g}",
        ]

    def _environment(self) -> dict[str, str]:
        # a submission's report is not the batch job's summary nor its step output
        env = {k: v for k, v in os.environ.items() if k not in CI_STEP_FILES}
        env["MLOPS_LABS_HOME"] = str(self.out.home)
        if self.jobs > 1 and not env.get(MACHINE_LOCK):
            env[MACHINE_LOCK] = str(self.out.machine)
        return env

    def _overdue(self, grading: _Grading) -> bool:
        return time.monotonic() - grading.started > self.limit + STOP_GRACE + 60

    def _finish(self, grading: _Grading, progress: BatchProgress, problem: str = "") -> None:
        grading.log.close()
        report = self.out.report(grading.name)
        if report is None or report.status == RunStatus.RUNNING:
            tail = _tail(self.out.reports(grading.name) / "grade.log")
            reason = f"the grading stopped without a final report; it said:\n{tail}"
            report = error_report(self.lab, grading.name, reason)
        if problem:  # whatever the child managed to write, the batch had to stop it
            report.status = RunStatus.ERROR
            report.errors.append(problem)
        facts = {
            "fingerprint": grading.prepared.fingerprint,
            "commit": grading.prepared.commit,
            "seconds": round(time.monotonic() - grading.started, 1),
        }
        shutil.rmtree(grading.prepared.path, ignore_errors=True)
        self._record(grading.name, report, facts, progress, grading.started)
        if (
            report.status == RunStatus.ERROR
            and self.lab.requires.docker
            and not self.halted
            and not engine_answers()
        ):
            self.halted = "the Docker engine stopped answering during the batch"

    def _record(
        self,
        name: str,
        report: Report,
        facts: dict[str, object],
        progress: BatchProgress,
        started: float,
    ) -> None:
        try:
            finish_report(report, self.out.reports(name), name, facts)
        except Exception as exc:  # one submission's report must not stop the batch
            reason = f"could not record the report: {type(exc).__name__}: {exc}"
            report = error_report(self.lab, name, reason)
            finish_report(report, self.out.reports(name), name, facts)
        if self.books is not None:
            write_books(self.lab, self.out, self.books)
        progress.finished_grading(name, report, time.monotonic() - started)

    def _stop_all(self, progress: BatchProgress) -> None:
        _stop([grading.process for grading in self.running.values()])
        for name in list(self.running):
            self._finish(self.running.pop(name), progress)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Ask each grading to stop (SIGINT: it stops its grader and removes its Docker objects),
    then kill the groups still there after the grace period."""
    for process in processes:
        _signal_group(process, signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def _die_with(parent: int) -> Callable[[], None]:
    """A pre-exec hook: the child takes SIGINT (to stop it), and gets SIGTERM when the batch
    dies, even by SIGKILL (Linux only; elsewhere it finishes on its own)."""
    if not sys.platform.startswith("linux"):
        return _default_interrupt
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    set_death_signal = 1  # PR_SET_PDEATHSIG

    def hook() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a batch started with `&` ignores it
        prctl(set_death_signal, int(signal.SIGTERM))
        if os.getppid() != parent:  # the batch died before the hook ran
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def _default_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").rstrip().splitlines()[-lines:])
    except OSError:
        return "(no output)"
