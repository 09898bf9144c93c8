"""The grader's own child (pytest, started by ``mlops-labs grade``) runs under a data limit."""

from __future__ import annotations

import subprocess
import sys

from graders.grading import GRADER_DATA_LIMIT, limit_memory


def test_the_graders_child_cannot_hold_more_than_its_data_limit() -> None:
    over = GRADER_DATA_LIMIT + 2**30
    code = f"import resource; print(resource.getrlimit(resource.RLIMIT_DATA)[0]); bytearray({over})"
    done = subprocess.run(
        [sys.executable, "-c", code], preexec_fn=limit_memory, capture_output=True, text=True
    )
    assert done.stdout.strip() == str(GRADER_DATA_LIMIT)
    assert done.returncode == 1 and "MemoryError" in done.stderr, done.stderr[-500:]
