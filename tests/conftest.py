"""Shared fixtures of mlops-labs' own test suite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graders.catalogue import discover_labs
from graders.timing import MACHINE_LOCK, machine_share

# Labs whose graders time a section under load (lab.toml's timed_under_load): their gradings go
# first.
TIMED_UNDER_LOAD = {lab.id for lab in discover_labs() if lab.timed_under_load}

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def isolated_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Keep learners' state (last scores, default report folders) out of the real home."""
    home = tmp_path / "mlops-labs-home"
    monkeypatch.setenv("MLOPS_LABS_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def machine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Tests on the engine share the machine between parallel workers (see ``graders.timing``).
    A whole-lab grading (marked ``slow``) holds no share itself: the grading it starts holds one
    around each heavy phase, through ``MLOPS_LABS_MACHINE_LOCK``, and its measured sections take
    the machine alone (they could not while their own test held a share)."""
    if request.node.get_closest_marker("docker") is None:
        yield
        return
    folder = tmp_path_factory.getbasetemp().parent / "machine"
    if request.node.get_closest_marker("slow") is not None:
        monkeypatch.setenv(MACHINE_LOCK, str(folder))
        yield
        return
    with machine_share(folder, alone=False):
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Gradings of labs that time a section under load (the lab's own gradings, and the attacks
    on it) run first, side by side: their neighbours then are short gradings of the same kind, so
    a measured section waits little for the machine alone. The other gradings follow, before the
    quick tests."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("slow") is None:
            return 2
        params = item.callspec.params if hasattr(item, "callspec") else {}
        lab_id = getattr(params.get("lab"), "id", None) or getattr(
            params.get("attack"), "lab_id", None
        )
        return 0 if lab_id in TIMED_UNDER_LOAD else 1

    items.sort(key=rank)


@pytest.fixture
def tiny_labs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point mlops-labs at the test fixture labs (a tiny file lab and a tiny Docker lab)."""
    monkeypatch.setenv("MLOPS_LABS_ROOT", str(FIXTURES / "labs"))
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(FIXTURES / "graders"), path]))
    )
    return FIXTURES / "labs"


def run_cli(*args: str, timeout: float = 900, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``mlops-labs`` as a learner would (a separate process) and capture what it says."""
    return subprocess.run(
        [sys.executable, "-m", "graders.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def interruptible() -> None:
    """In a child, before it runs: Ctrl-C (SIGINT) at its default, as for a terminal's
    foreground job. A test run started in the background (``cmd &``) ignores SIGINT, and its
    children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_grading(lab: str, out: Path) -> subprocess.Popen[str]:
    """Start ``mlops-labs grade LAB --reference`` in the background, as from a terminal."""
    return subprocess.Popen(
        [sys.executable, "-m", "graders.cli", "grade", lab, "--reference", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )


def wait_for_check(report: Path, check_id: str, timeout: float = 60) -> dict[str, Any]:
    """Wait until the partial report at ``report`` records an outcome of ``check_id`` (a partial
    report lists the checks still to run as ``not run``); return that report."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = json.loads(report.read_text())
            if any(c["id"] == check_id and c["outcome"] != "not run" for c in data["checks"]):
                return dict(data)
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{check_id} never finished in {report}")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[object]:
    """A live Docker engine: skipped on a laptop without one, an error in CI (which starts one)."""
    from graders.containers.engine import connect
    from graders.errors import EnvironmentProblem

    try:
        client = connect(timeout=60)
    except EnvironmentProblem as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide a Docker engine (.ci/run starts one): {exc}")
        pytest.skip(f"no Docker engine: {exc.message}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def service_run(docker_engine: Any) -> Iterator[str]:
    """A run id, on the base image, whose Docker objects are removed afterwards."""
    import uuid

    from graders.containers.cleanup import remove_run_resources
    from graders.containers.images import STAND_IN_BASE, ensure_image

    ensure_image(docker_engine, STAND_IN_BASE)
    run_id = "test-" + uuid.uuid4().hex[:8]
    try:
        yield run_id
    finally:
        remove_run_resources(docker_engine, run_id)
