"""Sharing one machine between the suite's parallel workers (pytest-xdist, ``-n 2``).

Most gradings can run two at a time. A grading whose checks measure time under load (lab 01's
latency check) must have the machine to itself, or a neighbour's build would cost it points. A
grading takes the machine *shared* or *alone* with two ``flock`` files in the folder all workers
share: the gate gives a grading that waits to be alone priority over shared ones that come later.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Labs whose graders measure time under load: their gradings have the machine to themselves.
TIMED_UNDER_LOAD = {"foundation/01-containerize-model"}


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
