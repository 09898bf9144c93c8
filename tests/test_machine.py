"""How parallel gradings share the machine (``graders.timing``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from graders.timing import MACHINE_LOCK, grading_share, machine_share, measured_alone


def hold(folder: Path, alone: bool, name: str, log: list[str], seconds: float = 0.0) -> None:
    with machine_share(folder, alone=alone):
        log.append(f"{name} in")
        time.sleep(seconds)
        log.append(f"{name} out")


def start(
    folder: Path, alone: bool, name: str, log: list[str], seconds: float = 0.0
) -> threading.Thread:
    thread = threading.Thread(target=hold, args=(folder, alone, name, log, seconds))
    thread.start()
    time.sleep(0.2)  # let it reach its lock
    return thread


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


def test_measured_alone_locks_nothing_without_a_lock_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MACHINE_LOCK, raising=False)
    with machine_share(tmp_path, alone=True), measured_alone():
        pass  # would wait for itself forever if it took the lock


def test_measured_alone_waits_for_shared_holders_in_the_lock_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MACHINE_LOCK, str(tmp_path))
    log: list[str] = []
    shared = start(tmp_path, False, "shared", log, 0.5)
    with measured_alone():
        log.append("measured")
    shared.join(5)
    assert log == ["shared in", "shared out", "measured"]


def test_a_grading_trades_its_share_for_the_machine_alone_while_it_measures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MACHINE_LOCK, str(tmp_path))
    log: list[str] = []
    other = start(tmp_path, False, "other", log, 0.6)  # another grading, side by side
    with grading_share():
        log.append("grading in")
        with measured_alone():
            log.append("measured")
        log.append("shared again")
        later = start(tmp_path, False, "later", log)
        later.join(5)
    other.join(5)
    assert log == [
        "other in", "grading in", "other out", "measured", "shared again", "later in", "later out"
    ]  # fmt: skip
