"""Timed sections: a check that measures time under load must have the machine to itself.

When several gradings share a machine (our suite's parallel workers, an instructor's parallel
batch), a neighbour's build would cost a latency check its points. Everything that runs in
parallel takes the machine *shared* or *alone* with two ``flock`` files in one folder; the gate
gives a holder that waits to be alone priority over shared holders that come later.

When ``MLOPS_LABS_MACHINE_LOCK`` names that folder, a grading holds the machine shared from start
to end (``grading_share``) and trades that for the machine alone around a measured section
(``measured_alone``). Without it (one grading at a time) nothing is locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MACHINE_LOCK = "MLOPS_LABS_MACHINE_LOCK"


class MachineShare:
    """One holder's share of the machine, through the two lock files in ``folder``."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._gate = open(folder / "machine.gate", "a")  # closed in close()
        self._lock = open(folder / "machine.lock", "a")
        self.alone: bool | None = None  # None while not held

    def take(self, *, alone: bool) -> None:
        """Wait for the machine, shared or alone."""
        fcntl.flock(self._gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:  # a shared holder lets the next one in at once
                fcntl.flock(self._gate, fcntl.LOCK_UN)
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


_grading: list[MachineShare] = []  # this process's share for its whole grading, while it runs


@contextmanager
def grading_share() -> Iterator[None]:
    """Hold the machine shared for a whole grading, when ``MLOPS_LABS_MACHINE_LOCK`` is set."""
    folder = os.environ.get(MACHINE_LOCK)
    if not folder:
        yield
        return
    share = MachineShare(Path(folder))
    share.take(alone=False)
    _grading.append(share)
    try:
        yield
    finally:
        _grading.remove(share)
        share.close()


@contextmanager
def measured_alone() -> Iterator[None]:
    """Hold the machine alone for a measurement, when gradings share it (see the module): the
    grading's shared hold is traded for the machine alone, and taken back afterwards."""
    folder = os.environ.get(MACHINE_LOCK)
    if not folder:
        yield
        return
    if not _grading:
        with machine_share(Path(folder), alone=True):
            yield
        return
    share = _grading[-1]
    share.give_back()
    share.take(alone=True)
    try:
        yield
    finally:
        share.give_back()
        share.take(alone=False)
