"""Shared helpers of the benchmark scripts (not part of the graders package)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB = "foundation/01-containerize-model"
SOLUTION = REPO / "labs" / "foundation" / "01-containerize-model" / "solution"
BIN = Path(sys.executable).parent


def timed(command: list[str], **kwargs: object) -> float:
    """Run ``command`` to completion and return its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs
    )  # type: ignore[call-overload]
    return time.perf_counter() - started


def describe(name: str, samples: list[float]) -> str:
    """``name: median s (min–max, n)``."""
    return (
        f"{name}: median {statistics.median(samples):.2f} s "
        f"(min {min(samples):.2f}, max {max(samples):.2f}, n={len(samples)})"
    )


def grade_reference_command(out: str, lab: str = LAB) -> list[str]:
    """``mlops-labs grade`` of a lab's reference solution (the first lab's by default), writing
    JSON into ``out``."""
    return [str(BIN / "mlops-labs"), "grade", lab, "--reference", "--out", out, "--format", "json"]
