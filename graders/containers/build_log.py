"""What a failed ``docker build`` says, first: the step that failed and the line that says why.

A build log ends with the builder's own lines (BuildKit repeats the failed step and its
``executor failed running …``; the classic builder prints ``The command … returned a non-zero
code``), while the line a learner needs — pip's ``ERROR: No matching distribution …``, ``COPY
failed: …`` — is somewhere above. :func:`failure_summary` puts the failed step and that line
first (the terminal report shows a message's first lines), then the step's last lines of output,
then the builder's own error; builder notices and BuildKit's bookkeeping lines are left out.
Both the BuildKit ``--progress=plain`` log and the classic builder's log are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graders.containers.builder import is_builder_notice

STEP_LINES = 10
_BUILDKIT_HEADER = re.compile(r"^#(\d+) \[([^\]]+)\] (.+)$")
_BUILDKIT_OUTPUT = re.compile(r"^#(\d+) \d+\.\d+ (.*)$")
_BUILDKIT_ERROR = re.compile(r"^#(\d+) ERROR: (.*)$")
_CLASSIC_STEP = re.compile(r"^Step (\d+/\d+) : (.+)$")
_CLASSIC_NOISE = re.compile(r"^( ---> |Removing intermediate container|Sending build context)")
_LEARNER_ERROR = re.compile(r"\b(error|failed|not found|no such|denied)\b", re.IGNORECASE)


@dataclass
class FailedStep:
    """The step a build stopped at, its output, and the builder's error line."""

    step: str = ""
    output: list[str] = field(default_factory=list)
    error: str = ""


def failure_summary(log: str, lines: int = STEP_LINES) -> str:
    """A failed build's message: the failed step, the line that says why, the step's last
    ``lines`` lines of output and the builder's error (see the module)."""
    kept = [line.rstrip() for line in log.splitlines() if not is_builder_notice(line)]
    failed = _buildkit_failure(kept) if any(_BUILDKIT_HEADER.match(x) for x in kept) else None
    if failed is None:
        failed = _classic_failure(kept)
    output = [line for line in failed.output if line.strip()]
    cause = next((line for line in reversed(output) if _LEARNER_ERROR.search(line)), "")
    step = failed.step if len(failed.step) <= 160 else failed.step[:159] + "…"
    first = f"docker build failed at step {step}" if step else "docker build failed"
    reason = cause or failed.error
    parts = [first, reason.strip() or "(the builder gave no reason)"]
    if output and output[-lines:] != [cause]:
        parts.append("the step's last lines:")
        parts += ["    " + line for line in output[-lines:]]
    if failed.error and failed.error != reason:
        parts.append(f"the builder said: {failed.error.strip()}")
    return "\n".join(parts)


def _buildkit_failure(lines: list[str]) -> FailedStep:
    """The failed step of a BuildKit ``--progress=plain`` log (or its closing error line)."""
    titles: dict[str, str] = {}
    outputs: dict[str, list[str]] = {}
    failed = FailedStep()
    failed_id = ""
    for line in lines:
        if header := _BUILDKIT_HEADER.match(line):
            titles.setdefault(header.group(1), f"[{header.group(2)}] {header.group(3)}")
        elif output := _BUILDKIT_OUTPUT.match(line):
            outputs.setdefault(output.group(1), []).append(output.group(2))
        elif error := _BUILDKIT_ERROR.match(line):
            failed_id, failed.error = error.group(1), error.group(2)
    if failed_id:
        failed.step = titles.get(failed_id, "")
        failed.output = outputs.get(failed_id, [])
    else:  # no step failed: the Dockerfile did not parse, a base image is missing, …
        failed.error = _last_line(lines)
    return failed


def _classic_failure(lines: list[str]) -> FailedStep:
    """The failed step of the classic builder's log: the last ``Step N/M``, what it printed,
    and the builder's last line."""
    failed = FailedStep(error=_last_line(lines))
    for index, line in enumerate(lines):
        if step := _CLASSIC_STEP.match(line):
            failed.step = f"{step.group(1)}: {step.group(2)}"
            failed.output = [
                later for later in lines[index + 1 :] if not _CLASSIC_NOISE.match(later)
            ]
    if failed.output and failed.output[-1] == failed.error:
        failed.output.pop()
    return failed


def _last_line(lines: list[str]) -> str:
    """The last line that says something (not a BuildKit separator)."""
    for line in reversed(lines):
        if line.strip() and not line.startswith("------"):
            return line.strip()
    return ""
