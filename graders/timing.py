"""Timed sections: a check that measures time under load must have the machine to itself.

When several gradings share a machine (our suite's parallel workers, an instructor's parallel
batch), a neighbour's build would cost a latency check its points. Everything that runs in
parallel takes the machine *shared* or *alone* with two ``flock`` files in one folder; the gate
gives a holder that waits to be alone priority over shared holders that come later.

When ``MLOPS_LABS_MACHINE_LOCK`` names that folder, a grading holds the machine shared only around
its heavy phases (``heavy_phase``: image builds, sandbox runs, workspace steps and probes, service
starts until ready or idle, reading an image's layers or files) and alone around a measured section
(``measured_alone``); between them it holds nothing. A measured section therefore waits for the
heavy phases in progress, never for a neighbour's whole grading. Both nest, re-entrant per process
(only the outermost takes a lock); a heavy phase inside a measured section takes nothing (the
machine is the grading's alone already), and a measured section inside a heavy phase trades the
share for the machine alone and takes the share back after. A wait that blocks is reported to the
callbacks of ``waits_reported_to`` (the live line says it). Without the variable (one grading at a
time) nothing is locked.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

MACHINE_LOCK = "MLOPS_LABS_MACHINE_LOCK"
MEASURING = "another grading is measuring"  # what a shared holder waits for
BUSY = "another grading is building or running"  # what a holder waiting to be alone waits for

# Called with why a wait blocks when it starts blocking, and with "" when it has ended.
WaitReport = Callable[[str], None]
_GRACE, _TRY = 0.05, 0.005  # seconds: how long a lock is tried before its wait counts as one


def _silent(_: str) -> None:
    return None


def _flock(file: IO[str], mode: int, report: WaitReport, why: str) -> bool:
    """``flock`` without blocking if it can; else say ``why`` and block. True if it blocked.

    Shared holders pass the gate in microseconds: a lock still taken after ``_GRACE`` seconds of
    tries is a real wait (a measurement, a heavy phase), and only that one is said."""
    tries = _GRACE / _TRY
    while True:
        try:
            fcntl.flock(file, mode | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            if tries <= 0:
                break
            tries -= 1
            time.sleep(_TRY)
    report(why)
    fcntl.flock(file, mode)
    return True


class MachineShare:
    """One holder's share of the machine, through the two lock files in ``folder``."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._gate = open(folder / "machine.gate", "a")  # closed in close()
        self._lock = open(folder / "machine.lock", "a")
        self.alone: bool | None = None  # None while not held

    def take(self, *, alone: bool, report: WaitReport = _silent) -> None:
        """Wait for the machine, shared or alone; ``report`` hears of a wait only if it blocks."""
        blocked = _flock(self._gate, fcntl.LOCK_EX, report, MEASURING)
        try:
            if alone:
                blocked |= _flock(self._lock, fcntl.LOCK_EX, report, BUSY)
            else:
                blocked |= _flock(self._lock, fcntl.LOCK_SH, report, MEASURING)
        except BaseException:
            fcntl.flock(self._gate, fcntl.LOCK_UN)
            raise
        finally:
            if not alone:  # a shared holder lets the next one in at once
                fcntl.flock(self._gate, fcntl.LOCK_UN)
            if blocked:
                report("")
        self.alone = alone

    def give_back(self) -> None:
        """Let go of what ``take`` got (nothing when nothing is held)."""
        if self.alone is None:
            return
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        if self.alone:
            fcntl.flock(self._gate, fcntl.LOCK_UN)
        self.alone = None

    def close(self) -> None:
        """Give back and close the lock files."""
        self.give_back()
        self._gate.close()
        self._lock.close()


@contextmanager
def machine_share(folder: Path, *, alone: bool) -> Iterator[None]:
    """Hold the machine shared with other gradings, or ``alone``, for the ``with`` block."""
    share = MachineShare(folder)
    try:
        share.take(alone=alone)
        yield
    finally:
        share.close()


class MachineUser:
    """One grading's use of the machine (see the module): shared while a heavy phase runs, alone
    while it measures, nothing otherwise. Re-entrant: what it holds follows from how many heavy
    phases and measured sections are open, in any of its threads."""

    def __init__(self, folder: Path, report: WaitReport = _silent) -> None:
        self._share = MachineShare(folder)
        self._report = report
        self._mutex = threading.Lock()  # held while taking: a second thread waits for the first
        self._heavy = 0
        self._measured = 0

    @contextmanager
    def heavy(self) -> Iterator[None]:
        """Hold the machine shared for the block, unless a phase of this grading holds it."""
        with self._mutex:
            if self._heavy == 0 and self._measured == 0:
                self._share.take(alone=False, report=self._report)
            self._heavy += 1
        try:
            yield
        finally:
            with self._mutex:
                self._heavy -= 1
                if self._heavy == 0 and self._measured == 0:
                    self._share.give_back()

    @contextmanager
    def measured(self) -> Iterator[None]:
        """Hold the machine alone for the block (trading a heavy phase's share for it)."""
        with self._mutex:
            if self._measured == 0:
                self._share.give_back()
                self._share.take(alone=True, report=self._report)
            self._measured += 1
        try:
            yield
        finally:
            with self._mutex:
                self._measured -= 1
                if self._measured == 0:
                    self._share.give_back()
                    if self._heavy:
                        self._share.take(alone=False, report=self._report)


_users: dict[tuple[int, str], MachineUser] = {}  # this process's, by lock folder
_reports: list[WaitReport] = []
_users_mutex = threading.Lock()


def _report(why: str) -> None:
    for report in list(_reports):
        report(why)


def _this_grading() -> MachineUser | None:
    """This process's user of the folder ``MLOPS_LABS_MACHINE_LOCK`` names, or None."""
    folder = os.environ.get(MACHINE_LOCK)
    if not folder:
        return None
    key = (os.getpid(), folder)  # a forked child must not reuse its parent's open lock files
    with _users_mutex:
        if key not in _users:
            _users[key] = MachineUser(Path(folder), _report)
        return _users[key]


@contextmanager
def heavy_phase() -> Iterator[None]:
    """Hold the machine shared while the block's heavy work runs (a build, a container run, a
    step), when ``MLOPS_LABS_MACHINE_LOCK`` is set; nested phases and phases inside a measured
    section take nothing more."""
    user = _this_grading()
    if user is None:
        yield
        return
    with user.heavy():
        yield


@contextmanager
def measured_alone() -> Iterator[None]:
    """Hold the machine alone for a measurement, when gradings share it (see the module): it
    waits for the heavy phases in progress, and later ones wait for it."""
    user = _this_grading()
    if user is None:
        yield
        return
    with user.measured():
        yield


@contextmanager
def waits_reported_to(report: WaitReport) -> Iterator[None]:
    """For the block, call ``report(why)`` when this process's wait for the machine blocks, and
    ``report("")`` when that wait has ended."""
    _reports.append(report)
    try:
        yield
    finally:
        _reports.remove(report)
