"""Lab advanced/01-disaster-recovery: the grader's own pieces, each on a case worked by hand.

Its reading of runbooks (sections, targets, cron gaps, commands), the premise of the
"backup under writes" drill (a file copy keeps a half-written transaction, SQLite's backup API
does not), the probe's planted backups, and the verdicts on manifests and refusals.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from graders.containers.sandbox import SandboxResult
from graders.labs.disaster_recovery import checks, probe
from graders.labs.disaster_recovery.drills import (
    Corruption,
    RunbookDrill,
    drill_the_runbook,
    refused_properly,
)
from graders.labs.disaster_recovery.fixtures import Backup, LiveRegistry, RestoreDrill
from graders.labs.disaster_recovery.manifest import manifest_problems
from graders.labs.disaster_recovery.runbook import longest_gap, parse_duration, read_runbook

LAB = Path(__file__).parents[1] / "labs/advanced/01-disaster-recovery"
TARGETS = """
## Targets
| Target | Value |
| --- | --- |
| RPO | {rpo} |
| RTO | 90 s |
| Schedule | `{schedule}` (UTC) |
| Retention | 7 backups |
## Backup
```bash
python -m drtool backup --db "$MLFLOW_DB" \\
  --artifacts "$MLFLOW_ARTIFACTS" --dest "$BACKUP_ROOT"
```
python -m drtool backup --outside-a-code-block
## Restore procedure
1. Restore:
   ```
   BACKUP=$(ls -d "$BACKUP_ROOT"/* | tail -n 1)
   python -m drtool restore "$BACKUP" --db "$MLFLOW_DB" --artifacts "$MLFLOW_ARTIFACTS"
   ```
## Verification
curl it.
"""


def runbook(rpo: str = "24 hours", schedule: str = "15 2 * * *") -> str:
    """A runbook with the four sections and the given RPO and schedule."""
    return TARGETS.format(rpo=rpo, schedule=schedule)


def test_the_reference_runbook_reads_without_problems() -> None:
    book = read_runbook((LAB / "solution/RUNBOOK.md").read_text())
    assert book.problems == []
    assert book.duration("RTO") == timedelta(minutes=1)
    assert book.retention() == 14


def test_the_starter_runbook_states_no_target() -> None:
    problems = read_runbook((LAB / "starter/RUNBOOK.md").read_text()).problems
    assert [problem.split()[0] for problem in problems] == ["RPO", "RTO", "Retention", "Schedule"]


def test_a_missing_section_and_a_missing_target_row_are_named() -> None:
    text = (
        runbook().replace("## Verification", "## Checks").replace("| Retention | 7 backups |", "")
    )
    assert read_runbook(text).problems == [
        "missing sections: ## Verification",
        "the Targets table has no Retention row",
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90 s", 90), ("2 minutes", 120), ("1.5 h", 5400), ("1 day", 86400), ("`5 min`", 300)],
)
def test_durations_read_in_common_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "fast", "2", "TODO", "-5 minutes"])
def test_what_is_not_a_duration_is_none(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("schedule", "gap"),
    [
        ("15 2 * * *", timedelta(days=1)),
        ("0 */6 * * *", timedelta(hours=6)),
        ("0 2 * * 1", timedelta(days=7)),
        ("0 2 * * mon-fri", timedelta(days=3)),  # Friday to Monday
        ("0 2 1 * *", timedelta(days=31)),
        ("0 0,12 * * *", timedelta(hours=12)),
    ],
)
def test_longest_gap_between_scheduled_backups(schedule: str, gap: timedelta) -> None:
    assert longest_gap(schedule) == gap


def test_a_day_of_month_and_a_day_of_week_together_mean_either() -> None:
    # cron runs when either matches: the 1st, or any Sunday; never more than 7 days apart
    assert longest_gap("0 0 1 * sun") <= timedelta(days=7)


@pytest.mark.parametrize("schedule", ["15 2 * *", "61 2 * * *", "0 2 * * funday", "@daily"])
def test_an_invalid_schedule_is_a_problem(schedule: str) -> None:
    problems = read_runbook(runbook(schedule=schedule)).problems
    assert len(problems) == 1 and "is not a five-field cron expression" in problems[0]


def test_an_rpo_shorter_than_the_gap_between_backups_is_a_problem() -> None:
    problems = read_runbook(runbook(rpo="1 hour", schedule="15 2 * * *")).problems
    assert problems == ["RPO '1 hour' is shorter than the 1 day, 0:00:00 between scheduled backups"]
    assert read_runbook(runbook(rpo="6 hours", schedule="0 */6 * * *")).problems == []


def test_commands_come_from_code_blocks_with_continuations_joined() -> None:
    book = read_runbook(runbook())
    assert book.commands("Backup") == [
        'python -m drtool backup --db "$MLFLOW_DB" --artifacts "$MLFLOW_ARTIFACTS" '
        '--dest "$BACKUP_ROOT"'
    ]
    assert book.commands("Restore procedure") == [
        'python -m drtool restore "$BACKUP" --db "$MLFLOW_DB" --artifacts "$MLFLOW_ARTIFACTS"'
    ]


def registry_database(path: Path) -> None:
    """A database with the registry tables the held transaction writes to, and one model."""
    with sqlite3.connect(path) as db:
        times = "creation_time INT, last_updated_time INT"
        db.execute(f"CREATE TABLE registered_models (name TEXT, {times}, description TEXT)")
        db.execute("CREATE TABLE registered_model_tags (key TEXT, value TEXT, name TEXT)")
        db.execute(
            f"CREATE TABLE model_versions (name TEXT, version INT, {times}, status TEXT, "
            "source TEXT, current_stage TEXT)"
        )
        db.execute("INSERT INTO registered_models VALUES ('fraud-detector', 0, 0, '')")
    db.close()


def models_in(path: Path) -> list[str]:
    """The registered models of a database file."""
    db = sqlite3.connect(path)
    try:
        return sorted(row[0] for row in db.execute("SELECT name FROM registered_models"))
    finally:
        db.close()


def test_a_file_copy_during_the_held_transaction_keeps_the_half_registration(
    tmp_path: Path,
) -> None:
    live = tmp_path / "mlflow.db"
    registry_database(live)
    holder = probe.hold_half_registration(str(live))
    try:
        shutil.copyfile(live, tmp_path / "copied.db")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert probe.HALF_REGISTERED in models_in(tmp_path / "copied.db")
    assert models_in(live) == ["fraud-detector"]


def test_the_backup_api_waits_for_the_held_transaction_and_copies_none_of_it(
    tmp_path: Path,
) -> None:
    live = tmp_path / "mlflow.db"
    registry_database(live)
    holder = probe.hold_half_registration(str(live))
    waited: list[float] = []

    def back_up() -> None:
        started = time.monotonic()
        source, copy = sqlite3.connect(live, timeout=10), sqlite3.connect(tmp_path / "backup.db")
        source.backup(copy)
        waited.append(time.monotonic() - started)
        copy.close()
        source.close()

    worker = threading.Thread(target=back_up)
    worker.start()
    time.sleep(1.0)
    holder.execute("ROLLBACK")
    holder.close()
    worker.join(timeout=30)
    assert waited and waited[0] >= 0.9
    assert models_in(tmp_path / "backup.db") == ["fraud-detector"]


def test_planted_backups_are_dated_a_day_apart_in_another_order(tmp_path: Path) -> None:
    backup = tmp_path / "b"
    backup.mkdir()
    (backup / "manifest.json").write_text(json.dumps({"created": "x", "files": []}))
    planted = probe.plant(str(tmp_path / "root"), str(backup), 5)
    created = planted["created"]
    assert sorted(os.listdir(tmp_path / "root")) == sorted([*created, "notes", "restore-log.txt"])
    by_created = sorted(created, key=created.__getitem__)
    by_mtime = sorted(created, key=lambda name: (tmp_path / "root" / name).stat().st_mtime)
    assert by_created != by_mtime and by_created != sorted(created)
    days = sorted(created.values())
    assert days[0] == "2026-06-01T02:15:00Z" and days[-1] == "2026-06-05T02:15:00Z"


def live(artifacts: dict[str, str]) -> LiveRegistry:
    """A LiveRegistry with these artifacts (no container)."""
    return LiveRegistry(None, {}, {}, artifacts)  # type: ignore[arg-type]


def a_backup(manifest: dict[str, object]) -> Backup:
    """A backup with this manifest."""
    return Backup(SandboxResult(0, "", "", 0.1), "/drill/backups/b", manifest)


def test_a_manifest_that_lists_every_file_with_its_checksum_has_no_problem() -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    files = {"mlflow.db": "aa", "artifacts/1/r/model.bin": "bb", "manifest.json": "cc"}
    listed = [{"path": path, "sha256": digest, "size": 1} for path, digest in files.items()]
    problems = manifest_problems(
        a_backup({"created": now, "files": listed[:2]}), files, live({"1/r/model.bin": "bb"})
    )
    assert problems == []


def test_a_manifest_without_zone_or_artifacts_is_told_both() -> None:
    files = {"mlflow.db": "aa", "artifacts/1/r/model.bin": "bb"}
    listed = [{"path": "mlflow.db", "sha256": "aa", "size": 1}]
    manifest = {"created": "2026-11-22T02:15:00", "files": listed}
    problems = manifest_problems(a_backup(manifest), files, live({"1/r/model.bin": "bb"}))
    assert len(problems) == 2
    assert "created '2026-11-22T02:15:00'" in problems[0]
    assert problems[1] == "files not listed: artifacts/1/r/model.bin"


@pytest.mark.parametrize(
    ("exit_code", "output", "untouched", "verdict"),
    [
        (1, "refused: artifacts/1/r/model.bin: checksum mismatch", True, ""),
        (0, "restored", False, "restored a backup whose"),
        (1, "refused: something is wrong", True, "without naming it"),
        (1, "model.bin: checksum mismatch", False, "changed the target first"),
    ],
)
def test_a_refusal_must_fail_name_the_file_and_touch_nothing(
    exit_code: int, output: str, untouched: bool, verdict: str
) -> None:
    result = SandboxResult(exit_code, "", output, 0.3)
    reason = refused_properly(Corruption("artifacts/1/r/model.bin", result, untouched))
    assert (reason == "") if not verdict else (verdict in reason)


class _NoDrill:
    """A drill that must not be used: any command it is asked to run fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the drill was used ({name}) although the restore drill had failed")


RESTORE_CRASHED = (
    "`python -m drtool restore` failed (exit 1):\n"
    "    Traceback (most recent call last):\n"
    "    FileNotFoundError: [Errno 2] No such file or directory: '/drill/restored/mlflow.db'"
)


def test_the_runbook_is_not_drilled_on_a_registry_the_restore_drill_never_brought_back() -> None:
    book = read_runbook((LAB / "solution/RUNBOOK.md").read_text())
    failed = RestoreDrill(problem=RESTORE_CRASHED)
    found = drill_the_runbook(_NoDrill(), book, failed)  # type: ignore[arg-type]
    assert found.steps == [] and found.problem == ""
    assert found.restore_failed == RESTORE_CRASHED


def test_check_7_names_check_2_and_its_failure_never_a_traceback_nor_the_runbook() -> None:
    book = read_runbook((LAB / "solution/RUNBOOK.md").read_text())
    with pytest.raises(AssertionError) as raised:
        checks.test_runbook_sections_and_commands_work(
            book, RunbookDrill([], restore_failed=RESTORE_CRASHED)
        )
    message = str(raised.value)
    assert message.startswith(
        "the runbook's commands were not run: they back up the registry that the restore drill "
        'of check 2 ("Restore brings back every model, version, alias, tag, run metric and '
        'artifact") brings back, and that drill failed: `python -m drtool restore` failed (exit 1) '
    )
    assert "Traceback" not in message and "FileNotFoundError" not in message
    assert "Backup section" not in message


def test_a_runbook_whose_own_command_fails_is_still_blamed() -> None:
    book = read_runbook((LAB / "solution/RUNBOOK.md").read_text())
    result = SandboxResult(2, "", "drtool: error: unrecognized arguments: --dest", 0.1)
    drilled = RunbookDrill(
        [("python -m drtool backup --dest x", result)], "the runbook's command `x` failed"
    )
    with pytest.raises(AssertionError, match="the runbook's command `x` failed"):
        checks.test_runbook_sections_and_commands_work(book, drilled)


@pytest.mark.parametrize(
    ("prune", "problem"),
    [
        ('python -m drtool prune "$BACKUP_ROOT" --keep 14', False),
        ('python -m drtool prune "$BACKUP_ROOT" --keep=14', False),
        ('python -m drtool prune "$BACKUP_ROOT" --keep 7', True),
        ('python -m drtool prune "$BACKUP_ROOT" --keep "$KEEP"', True),
    ],
)
def test_a_prune_that_keeps_another_number_than_the_retention_target_is_a_problem(
    prune: str, problem: bool
) -> None:
    text = (LAB / "solution/RUNBOOK.md").read_text()
    assert 'python -m drtool prune "$BACKUP_ROOT" --keep 14' in text
    problems = read_runbook(
        text.replace('python -m drtool prune "$BACKUP_ROOT" --keep 14', prune)
    ).problems
    assert bool(problems) == problem, problems
    assert not problem or "the Retention target says 14" in problems[0]
