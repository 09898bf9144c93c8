"""Timed sections: a check that measures time under load must have the machine to itself.

When several gradings share a machine (our suite's parallel workers, an instructor's parallel
batch), a neighbour's build would cost a latency check its points. Everything that runs in
parallel takes the machine *shared* or *alone* with two ``flock`` files in one folder; the gate
gives a section that waits to be alone priority over shared holders that come later. A check's
measured section goes alone when ``MLOPS_LABS_MACHINE_LOCK`` names that folder; without it (one
grading at a time) nothing is locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MACHINE_LOCK = "MLOPS_LABS_MACHINE_LOCK"


@contextmanager
def machine_share(folder: Path, *, alone: bool) -> Iterator[None]:
    """Hold the machine shared with other gradings, or ``alone``, for the ``with`` block."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "machine.gate", "a") as gate, open(folder / "machine.lock", "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:  # a shared holder lets the next one in at once
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(gate, fcntl.LOCK_UN)


@contextmanager
def measured_alone() -> Iterator[None]:
    """Hold the machine alone for a measurement, when gradings share it (see the module)."""
    folder = os.environ.get(MACHINE_LOCK)
    if not folder:
        yield
        return
    with machine_share(Path(folder), alone=True):
        yield
