"""What every lab's raw side uses: plain docker commands and a service's readiness by HTTP."""

from __future__ import annotations

import json
import shlex
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


class Box:
    """A running container by name: ``sh`` runs a bash script in it (in ``cwd``), ``probe`` the
    lab's probe (staged at ``/grader/probe.py``) and returns the JSON it printed last."""

    def __init__(self, name: str) -> None:
        self.name = name

    def sh(self, script: str, cwd: str = "/work", check: bool = True) -> str:
        """``docker exec`` of ``bash -c script``; its output (raises if it fails and ``check``)."""
        done = subprocess.run(
            ["docker", "exec", "-w", cwd, self.name, "bash", "-c", script],
            capture_output=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{script} failed: {done.stderr.decode(errors='replace')[-2000:]}")
        return done.stdout.decode(errors="replace")

    def probe(self, cwd: str, *args: str) -> object:
        """``python /grader/probe.py ARGS`` in ``cwd``; the JSON it printed last."""
        said = self.sh(shlex.join(["python", "/grader/probe.py", *args]), cwd)
        return json.loads(said.strip().splitlines()[-1])
