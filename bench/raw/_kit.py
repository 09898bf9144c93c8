"""What every lab's raw side uses: plain docker commands and a service's readiness by HTTP."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests


@dataclass(frozen=True)
class Raw:
    """One raw run: the lab's reference ``solution``, an empty ``work`` folder of its own, and
    the runner image's name (``mlops-labs/runner:…``) the gradings used."""

    solution: Path
    work: Path
    runner: str


def docker(*args: str, stdin: bytes | None = None) -> str:
    """``docker ARGS`` to completion; its standard output (raises if it fails)."""
    done = subprocess.run(["docker", *args], check=True, capture_output=True, input=stdin)
    return done.stdout.decode(errors="replace")


def published_url(container: str, port: int) -> str:
    """``http://127.0.0.1:P`` where ``P`` is the host port ``container`` publishes ``port`` on."""
    host_port = docker("port", container, f"{port}/tcp").splitlines()[0].split(":")[-1].strip()
    return f"http://127.0.0.1:{host_port}"


def wait_http(url: str, deadline: float = 60.0) -> None:
    """Poll ``url`` every 0.1 s until it answers anything (raises after ``deadline`` s)."""
    limit = time.monotonic() + deadline
    while time.monotonic() < limit:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {deadline:.0f} s")
