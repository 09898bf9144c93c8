"""ruff and mypy are part of the test suite, so the README's one test command covers them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / tool), *args], cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )


def test_ruff_finds_nothing_in_graders_and_tests() -> None:
    done = run("ruff", "check", "graders", "tests")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing_in_graders() -> None:
    done = run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
