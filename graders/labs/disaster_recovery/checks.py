"""Grader of advanced/01-disaster-recovery: its acceptance criteria, in order, one check each.

The grader runs a drill on a real MLflow 3 registry with the learner's ``python -m drtool``
(see ``disaster_recovery_fixtures``): back up, back up under writes, destroy, restore, start a
fresh server on the restored files; then corrupted backups, retention and the runbook's own
commands (``disaster_recovery_drills``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from graders.checks import PartialCredit, check, title_of
from graders.labs.disaster_recovery.drills import (
    Corruption,
    Retention,
    RunbookDrill,
    differences,
    refused_properly,
)
from graders.labs.disaster_recovery.fixtures import (
    TOOL,
    Backup,
    Drill,
    LiveRegistry,
    RestoreDrill,
    shown,
)
from graders.labs.disaster_recovery.manifest import manifest_problems
from graders.labs.disaster_recovery.probe import HALF_REGISTERED, MODELS
from graders.labs.disaster_recovery.runbook import Runbook

MAX_RTO = timedelta(minutes=2)
RESTORED_PARTS = {
    "models": "registered models (descriptions, tags)",
    "versions": "model versions (source, run, status, tags)",
    "aliases": "aliases",
    "runs": "runs (params, tags, metric histories)",
    "artifacts": "artifacts (byte for byte)",
}


@check(
    1,
    points=10,
    hint="Copy the database with SQLite's backup API and the artifact folder, then write "
    "manifest.json: created (UTC, ISO 8601 with Z) and files [{path, sha256, size}], all of them.",
)
def test_backup_has_manifest_and_checksums(
    first_backup: Backup, drill: Drill, live_registry: LiveRegistry
) -> None:
    """Backup makes a folder with a manifest and checksums"""
    folder = first_backup.usable()
    assert first_backup.manifest is not None, first_backup.problem
    files = drill.probe("tree", folder)
    problems = manifest_problems(first_backup, files, live_registry)
    copied = drill.probe("tables", f"{folder}/mlflow.db")
    if copied.get("digests") != live_registry.tables["digests"]:
        problems.append("its mlflow.db does not hold the registry's rows as they were")
    assert not problems, f"the backup {folder}:\n  " + "\n  ".join(problems)


@check(
    2,
    points=25,
    hint="Restore must put back the whole database file (every table) and the artifact tree "
    "at the same relative paths; start `mlflow server` on them yourself and compare.",
)
def test_restore_brings_back_everything(
    restore_drill: RestoreDrill, live_registry: LiveRegistry
) -> None:
    """Restore brings back every model, version, alias, tag, run metric and artifact"""
    assert restore_drill.snapshot is not None, restore_drill.problem
    lost = {}
    for part in RESTORED_PARTS:
        found = differences(live_registry.expected[part], restore_drill.snapshot[part])
        if found:
            lost[part] = found
    if lost:
        detail = "\n".join(
            f"  {RESTORED_PARTS[part]}: {', '.join(found[:3])}" + (" …" if len(found) > 3 else "")
            for part, found in lost.items()
        )
        fraction = 1 - len(lost) / len(RESTORED_PARTS)
        raise PartialCredit(fraction, f"the restored registry differs from the original:\n{detail}")


@check(
    3,
    points=10,
    hint="State the RTO you measured in a drill, with a margin, in the Targets table "
    "(like `1 minute`); the recovery is timed from your restore command to the server's /health.",
)
def test_recovery_within_runbook_rto(restore_drill: RestoreDrill, runbook: Runbook) -> None:
    """Recovery fits the runbook's RTO, at most 2 minutes"""
    rto = runbook.duration("RTO")
    assert rto is not None, "the runbook's Targets table states no RTO (like `1 minute`)"
    assert rto <= MAX_RTO, f"the runbook's RTO ({runbook.targets['RTO']}) is over 2 minutes"
    assert restore_drill.recovery_seconds is not None, restore_drill.problem
    assert restore_drill.recovery_seconds <= rto.total_seconds(), (
        f"the recovery took {restore_drill.recovery_seconds:.1f} s (restore, then the server "
        f"answered), more than the runbook's RTO of {runbook.targets['RTO']}"
    )


@check(
    4,
    points=15,
    hint="Verify every file's size and SHA-256 against the manifest before writing anything; "
    "exit non-zero with a message naming the bad file.",
)
def test_corrupted_backup_is_refused(corruptions: list[Corruption]) -> None:
    """A corrupted backup is refused and the target left untouched"""
    failures = [reason for reason in map(refused_properly, corruptions) if reason]
    if failures:
        fraction = 1 - len(failures) / len(corruptions)
        reason = "\n".join(f"`{TOOL} restore` {failure}" for failure in failures)
        if fraction == 0:
            raise AssertionError(reason)
        raise PartialCredit(fraction, reason)


@check(
    5,
    points=15,
    hint="Copy the live database with SQLite's online backup API (or VACUUM INTO), never with "
    "a file copy: it waits for a transaction in progress instead of copying it half written.",
)
def test_backup_under_writes_is_consistent(
    backup_under_writes: Backup, restored_under_writes: dict[str, Any]
) -> None:
    """A backup taken under writes restores to a consistent database"""
    backup_under_writes.usable()
    found = restored_under_writes
    assert found.get("exists"), "the restore left no database at --db"
    assert "error" not in found, f"SQLite cannot read the restored database: {found.get('error')}"
    problems = []
    if found["integrity"] != "ok":
        problems.append(f"PRAGMA integrity_check: {found['integrity']}")
    if found["foreign_key_errors"]:
        problems.append(f"{found['foreign_key_errors']} rows break a foreign key")
    if HALF_REGISTERED in found["models"]:
        problems.append(
            f"it holds {HALF_REGISTERED!r}, a registration whose transaction was never committed"
        )
    if found["statuses"] != ["READY"]:
        problems.append(f"model versions in states {found['statuses']}")
    missing = sorted(set(MODELS) - set(found["models"]))
    if missing:
        problems.append(f"models missing: {', '.join(missing)}")
    assert not problems, "the backup taken under writes is not consistent:\n  " + "\n  ".join(
        problems
    )


@check(
    6,
    points=10,
    hint="Sort the folders that hold a manifest.json by its created time, newest first; delete "
    "those after the first N; leave anything else alone.",
)
def test_retention_keeps_newest_backups(retention: Retention) -> None:
    """Retention keeps the newest backups and deletes only older ones"""
    assert retention.result.ok, (
        f"`{TOOL} prune` failed (exit {retention.result.exit_code}):\n{shown(retention.result)}"
    )
    left = set(retention.left)
    deleted_newer = sorted(retention.newest() - left)
    kept_older = sorted(left & (set(retention.created) - retention.newest()))
    others = sorted(set(retention.others) - left)
    problems = [
        f"{label}: {', '.join(names)}"
        for label, names in (
            (f"deleted one of the {retention.keep} newest backups", deleted_newer),
            ("kept older backups", kept_older),
            ("deleted what is not a backup", others),
        )
        if names
    ]
    assert not problems, (
        f"with {len(retention.created)} backups and --keep {retention.keep}:\n  "
        + "\n  ".join(problems)
    )


@check(
    7,
    points=15,
    hint="Keep the four sections and the Targets table of the README; put the exact "
    "`python -m drtool` lines you ran in the Backup and Restore procedure code blocks.",
)
def test_runbook_sections_and_commands_work(runbook: Runbook, runbook_drill: RunbookDrill) -> None:
    """The runbook has its sections, consistent targets and commands that work"""
    assert not runbook.problems, "RUNBOOK.md: " + "; ".join(runbook.problems)
    assert not runbook_drill.restore_failed, _earlier_failure(runbook_drill.restore_failed)
    if runbook_drill.problem:
        ran = "\n".join(
            f"  $ {command}\n{shown(result, 6)}" for command, result in runbook_drill.steps
        )
        raise AssertionError(f"{runbook_drill.problem}\n{ran}".rstrip())
    assert runbook_drill.restored is not None and runbook_drill.source is not None
    assert runbook_drill.restored[0].get("digests") == runbook_drill.source[0].get("digests"), (
        "the runbook's restore did not bring back the database its backup was taken from"
    )
    assert runbook_drill.restored[1] == runbook_drill.source[1], (
        "the runbook's restore did not bring back the artifacts its backup was taken from"
    )


def _earlier_failure(problem: str) -> str:
    """Check 7's message when the restore drill of check 2 failed: the runbook's commands were not
    run, and why, in that drill's first line (its output, a traceback maybe, is check 2's)."""
    first = problem.strip().splitlines()[0].rstrip(":") if problem.strip() else "it failed"
    return (
        "the runbook's commands were not run: they back up the registry that the restore drill of "
        f'check 2 ("{title_of(test_restore_brings_back_everything)}") brings back, and that drill '
        f"failed: {first} (check 2's report shows the output). Fix the restore first; this says "
        "nothing about the runbook's commands"
    )
