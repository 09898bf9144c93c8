"""How parallel gradings share the machine (``graders.timing``): real ``flock`` files in
``tmp_path``, other gradings played by threads (each its own ``MachineUser``) or processes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import docker
import pytest
from rich.console import Console

from graders.containers.images import STAND_IN_BASE
from graders.containers.running import ContainerSpec
from graders.containers.services import running_service
from graders.errors import LearnerFailure
from graders.grading import _Progress
from graders.timing import (
    BUSY,
    MACHINE_LOCK,
    MEASURING,
    MachineUser,
    heavy_phase,
    machine_share,
    measured_alone,
    waits_reported_to,
)

REPO = Path(__file__).resolve().parent.parent


def hold(folder: Path, alone: bool, name: str, log: list[str], seconds: float = 0.0) -> None:
    with machine_share(folder, alone=alone):
        log.append(f"{name} in")
        time.sleep(seconds)
        log.append(f"{name} out")


def start(
    folder: Path, alone: bool, name: str, log: list[str], seconds: float = 0.0
) -> threading.Thread:
    return begin(hold, folder, alone, name, log, seconds)


def begin(target: Callable[..., None], *args: object) -> threading.Thread:
    """Run ``target`` in a daemon thread (a deadlock must fail the test, not hang it)."""
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    time.sleep(0.2)  # let it reach its lock
    return thread


def in_phase(
    phase: Callable[[], AbstractContextManager[None]],
    name: str,
    log: list[str],
    seconds: float = 0.0,
) -> None:
    with phase():
        log.append(f"{name} in")
        time.sleep(seconds)
        log.append(f"{name} out")


@pytest.fixture
def lock_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``MLOPS_LABS_MACHINE_LOCK`` names a fresh folder, as a parallel batch sets it."""
    monkeypatch.setenv(MACHINE_LOCK, str(tmp_path))
    return tmp_path


def test_two_shared_holders_run_together(tmp_path: Path) -> None:
    log: list[str] = []
    first = start(tmp_path, False, "a", log, 0.6)
    second = start(tmp_path, False, "b", log, 0.1)
    first.join(5), second.join(5)
    assert log == ["a in", "b in", "b out", "a out"]


def test_alone_waits_for_shared_holders_and_goes_before_later_ones(tmp_path: Path) -> None:
    log: list[str] = []
    shared = start(tmp_path, False, "shared", log, 0.6)
    alone = start(tmp_path, True, "alone", log, 0.3)
    later = start(tmp_path, False, "later", log)
    for thread in (shared, alone, later):
        thread.join(5)
    assert log == ["shared in", "shared out", "alone in", "alone out", "later in", "later out"]


def test_heavy_phases_of_two_gradings_overlap(tmp_path: Path) -> None:
    log: list[str] = []
    first = begin(in_phase, MachineUser(tmp_path).heavy, "a", log, 0.6)
    second = begin(in_phase, MachineUser(tmp_path).heavy, "b", log, 0.1)
    first.join(5), second.join(5)
    assert log == ["a in", "b in", "b out", "a out"]


def test_a_measured_section_waits_for_a_heavy_phase_in_progress(tmp_path: Path) -> None:
    log: list[str] = []
    neighbour = begin(in_phase, MachineUser(tmp_path).heavy, "heavy", log, 0.5)
    with MachineUser(tmp_path).measured():
        log.append("measured")
    neighbour.join(5)
    assert log == ["heavy in", "heavy out", "measured"]


def test_a_heavy_phase_that_comes_later_waits_for_the_measured_section(tmp_path: Path) -> None:
    log: list[str] = []
    measuring = begin(in_phase, MachineUser(tmp_path).measured, "measured", log, 0.5)
    with MachineUser(tmp_path).heavy():
        log.append("heavy")
    measuring.join(5)
    assert log == ["measured in", "measured out", "heavy"]


def neighbour_process(folder: Path, script: str) -> subprocess.Popen[str]:
    """Another grading: a Python process using ``graders.timing`` on ``folder``."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", MACHINE_LOCK: str(folder)},
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_measured_section_does_not_wait_for_an_idle_neighbour_grading(
    lock_folder: Path,
) -> None:
    neighbour = neighbour_process(
        lock_folder,
        """
        import time
        from graders.timing import heavy_phase
        with heavy_phase():
            pass
        print("between phases", flush=True)
        time.sleep(20)
        """,
    )
    try:
        assert neighbour.stdout is not None
        assert neighbour.stdout.readline() == "between phases\n"
        with measured_alone():
            assert neighbour.poll() is None  # it is still grading, and we measure
    finally:
        neighbour.kill()
        neighbour.wait()


def test_a_measured_section_waits_for_a_neighbour_process_in_a_heavy_phase(
    lock_folder: Path,
) -> None:
    log = lock_folder / "neighbour.log"
    neighbour = neighbour_process(
        lock_folder,
        f"""
        import time
        from pathlib import Path
        from graders.timing import heavy_phase
        log = Path({str(log)!r})
        with heavy_phase():
            log.write_text("heavy in\\n")
            print("in", flush=True)
            time.sleep(1)
            log.write_text("heavy in\\nheavy out\\n")
        time.sleep(20)
        """,
    )
    try:
        assert neighbour.stdout is not None
        assert neighbour.stdout.readline() == "in\n"
        with measured_alone():
            assert log.read_text().splitlines() == ["heavy in", "heavy out"]
    finally:
        neighbour.kill()
        neighbour.wait()


def test_nested_heavy_phases_take_the_lock_once_and_do_not_deadlock(lock_folder: Path) -> None:
    log: list[str] = []

    def grading() -> None:
        with heavy_phase():
            log.append("outer in")
            # a neighbour now waits to be alone, holding the gate: a second shared take would
            # wait for it, and it for us
            time.sleep(0.4)
            with heavy_phase():
                log.append("inner")
            log.append("outer out")

    ours = begin(grading)
    neighbour = start(lock_folder, True, "alone", log)
    ours.join(5), neighbour.join(5)
    assert not ours.is_alive(), "the nested heavy phase deadlocked"
    assert log == ["outer in", "inner", "outer out", "alone in", "alone out"]


def test_a_heavy_phase_inside_a_measured_section_takes_no_lock(lock_folder: Path) -> None:
    log: list[str] = []

    def grading() -> None:
        with measured_alone():
            log.append("measured in")
            with heavy_phase():
                log.append("heavy")
            time.sleep(0.4)  # still alone: a later shared holder must still wait
            log.append("measured out")

    ours = begin(grading)
    later = start(lock_folder, False, "later", log)
    ours.join(5), later.join(5)
    assert not ours.is_alive(), "the heavy phase inside the measured section blocked"
    assert log == ["measured in", "heavy", "measured out", "later in", "later out"]


def test_a_measured_section_inside_a_heavy_phase_trades_the_share_and_takes_it_back(
    lock_folder: Path,
) -> None:
    log: list[str] = []
    other = start(lock_folder, False, "other", log, 0.6)  # another grading's heavy phase
    with heavy_phase():
        log.append("heavy in")
        with measured_alone():
            log.append("measured")
        log.append("shared again")
        later = start(lock_folder, False, "later", log)  # shares with us, does not wait
        later.join(5)
        log.append("heavy out")
    other.join(5)
    assert log == [
        "other in", "heavy in", "other out", "measured", "shared again", "later in", "later out",
        "heavy out",
    ]  # fmt: skip


def test_nothing_is_locked_when_the_variable_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    log: list[str] = []

    def grading() -> None:
        for value in (None, ""):  # unset, and set but empty
            if value is None:
                monkeypatch.delenv(MACHINE_LOCK, raising=False)
            else:
                monkeypatch.setenv(MACHINE_LOCK, value)
            with heavy_phase(), measured_alone(), heavy_phase():
                log.append(f"graded ({value!r})")

    with machine_share(cwd, alone=True):  # were anything locked here, the grading would wait
        ours = begin(grading)
        ours.join(5)
    assert log == ["graded (None)", "graded ('')"]
    assert sorted(path.name for path in cwd.iterdir()) == ["machine.gate", "machine.lock"]


def test_a_wait_that_does_not_block_is_not_reported(tmp_path: Path) -> None:
    said: list[str] = []
    user = MachineUser(tmp_path, said.append)
    with user.heavy():
        pass
    with user.measured(), user.heavy():
        pass
    assert said == []


def test_a_heavy_phase_blocked_by_a_measuring_neighbour_says_why_then_goes_on(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    neighbour = start(tmp_path, True, "alone", [], 0.4)
    with MachineUser(tmp_path, said.append).heavy():
        said.append("in")
    neighbour.join(5)
    assert said == [MEASURING, "", "in"]


def test_a_measured_section_blocked_by_a_heavy_phase_says_why_then_goes_on(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    neighbour = start(tmp_path, False, "shared", [], 0.4)
    with MachineUser(tmp_path, said.append).measured():
        said.append("in")
    neighbour.join(5)
    assert said == [BUSY, "", "in"]


def test_waits_reported_to_hears_this_process_s_blocked_waits_only_while_open(
    lock_folder: Path,
) -> None:
    said: list[str] = []
    with waits_reported_to(said.append):
        with heavy_phase():
            pass  # not blocked: nothing said
        neighbour = start(lock_folder, True, "alone", [], 0.4)
        with heavy_phase():
            pass
        neighbour.join(5)
    neighbour = start(lock_folder, True, "alone", [], 0.4)
    with heavy_phase():
        pass
    neighbour.join(5)
    assert said == [MEASURING, ""]


@pytest.fixture
def events(tmp_path: Path) -> Iterator[Callable[..., list[str]]]:
    """Feed events to the live display (not a terminal: it prints each line it says)."""
    path, output = tmp_path / ".events.jsonl", io.StringIO()
    display = _Progress(path, Console(file=output, force_terminal=False, width=200))

    def feed(*lines: dict[str, object]) -> list[str]:
        with path.open("a") as stream:
            stream.writelines(json.dumps(line) + "\n" for line in lines)
        display.update()
        return output.getvalue().splitlines()

    yield feed
    display.close()


def test_the_live_line_says_when_the_grading_waits_for_the_machine(
    events: Callable[..., list[str]],
) -> None:
    shown = events(
        {"event": "start", "title": "The image builds", "total": 12},
        {"event": "wait", "what": "building the learner's image"},
        {"event": "machine", "why": MEASURING},
        {"event": "machine", "why": ""},
    )
    assert shown == [
        "[1/12] The image builds",
        "[1/12] The image builds — waiting for: building the learner's image",
        "[1/12] The image builds — waiting for the machine: another grading is measuring",
    ]


def test_a_grading_s_blocked_heavy_phase_reaches_the_events_file_and_the_report(
    pytester: pytest.Pytester, lock_folder: Path
) -> None:
    pytester.makepyfile(
        test_grader="""
        from graders.checks import check
        from graders.timing import heavy_phase

        @check(1, points=1, hint="h")
        def test_builds():
            '''It builds'''
            with heavy_phase():
                pass
        """
    )
    events = pytester.path / "events.jsonl"

    def measure_until_the_grading_waits() -> None:  # at most 60 s
        with machine_share(lock_folder, alone=True):
            for _ in range(600):
                if events.exists() and '"machine"' in events.read_text():
                    return
                time.sleep(0.1)

    neighbour = begin(measure_until_the_grading_waits)
    report = pytester.path / "report.json"
    pytester.runpytest_subprocess("--mlops-events", str(events), "--mlops-report", str(report))
    neighbour.join(5)
    machine = [
        json.loads(line)["why"]
        for line in events.read_text().splitlines()
        if json.loads(line)["event"] == "machine"
    ]
    assert machine == [MEASURING, ""]
    # the report counts the wait and its seconds (the neighbour lets go once the wait is said)
    waits = json.loads(report.read_text())["environment"]
    assert waits["machine_waits"]["count"] == 1
    assert 0 < waits["machine_waits"]["seconds"] < 60


def start_measuring(folder: Path, log: list[str]) -> threading.Thread:
    """A neighbour grading that asks to measure once our service has started."""

    def measure() -> None:
        time.sleep(0.5)
        with MachineUser(folder).measured():
            log.append("neighbour measured")

    thread = threading.Thread(target=measure, daemon=True)
    thread.start()
    return thread


@pytest.mark.docker
def test_a_service_start_that_has_gone_idle_no_longer_holds_the_machine(
    docker_engine: docker.DockerClient, service_run: str, lock_folder: Path
) -> None:
    log: list[str] = []
    spec = ContainerSpec(STAND_IN_BASE, service_run, "idle", command=["sleep", "60"])
    neighbour = start_measuring(lock_folder, log)
    with pytest.raises(LearnerFailure):
        with running_service(
            docker_engine, spec, ready=lambda _: False, timeout=6, pause=0.1, blame=LearnerFailure
        ):
            pass
    log.append("our wait timed out")
    neighbour.join(5)
    assert log == ["neighbour measured", "our wait timed out"]


@pytest.mark.docker
def test_a_service_start_that_works_holds_the_machine_until_ready(
    docker_engine: docker.DockerClient, service_run: str, lock_folder: Path
) -> None:
    log: list[str] = []
    busy = "import time\nwhile True: pass"
    spec = ContainerSpec(STAND_IN_BASE, service_run, "busy", command=["python", "-c", busy])
    neighbour = start_measuring(lock_folder, log)
    ready_at = time.monotonic() + 4

    def ready(_: object) -> bool:  # logged before the share is given back, not after: the
        if time.monotonic() > ready_at:  # neighbour may measure the moment it is
            log.append("our service ready")
            return True
        return False

    with running_service(
        docker_engine, spec, ready=ready, timeout=30, pause=0.1, blame=LearnerFailure
    ):
        pass
    neighbour.join(5)
    assert log == ["our service ready", "neighbour measured"]
