"""The disaster-recovery lab's smaller drills: corrupted backups, retention, and the runbook.

Each one works on its own folders of ``/drill`` (see ``disaster_recovery_fixtures``) and only
after the main drill: the live server is gone, the restored one answers.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from graders.containers.sandbox import SandboxResult
from graders.errors import LearnerFailure
from graders.labs.disaster_recovery.fixtures import (
    DRILL,
    RESTORED,
    TOOL,
    Backup,
    Drill,
    RestoreDrill,
    restore_command,
    shown,
    store,
)
from graders.labs.disaster_recovery.runbook import Runbook, read_runbook

RUNBOOK = "RUNBOOK.md"
MAX_RETENTION = 60
# flips one byte in the middle of a file
_FLIP = (
    "python -c \"import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); "
    "b[len(b) // 2] ^= 0xFF; open(p, 'wb').write(bytes(b))\" "
)


@dataclass
class Corruption:
    """One corrupted copy of the first backup, and what restoring it did."""

    what: str  # the corrupted file, as the manifest names it
    result: SandboxResult
    untouched: bool


def corrupt_and_restore(drill: Drill, backup: str, relative: str, name: str) -> Corruption:
    """Flip a byte of ``relative`` in a copy of ``backup``; restore it onto a target that holds a
    registry already; see whether the restore refused and left the target as it was."""
    copy, target = f"{DRILL}/corrupt-{name}", f"{DRILL}/refused-{name}"
    drill.shell(
        f"cp -a {backup} {copy} && {_FLIP}{shlex.quote(f'{copy}/{relative}')} && "
        f"mkdir -p {target}/artifacts/0 && echo 'the registry before the restore' > "
        f"{target}/mlflow.db && echo keep > {target}/artifacts/0/keep.txt"
    )
    before = drill.probe("tree", target)
    result = drill.tool(restore_command(copy, target), timeout=120)
    return Corruption(relative, result, drill.probe("tree", target) == before)


@pytest.fixture(scope="session")
def corruptions(
    drill: Drill, first_backup: Backup, restore_drill: RestoreDrill
) -> list[Corruption]:
    """A corrupted database, then a corrupted artifact (the largest file under artifacts/)."""
    folder = first_backup.usable()
    listing = drill.probe("tree", folder)
    sizes = drill.shell(f"cd {folder} && find artifacts -type f -printf '%s %p\\n' | sort -n")
    largest = sizes.split()[-1] if sizes.split() else ""
    if "mlflow.db" not in listing:
        raise LearnerFailure("the backup holds no mlflow.db at its top level")
    found = [corrupt_and_restore(drill, folder, "mlflow.db", "database")]
    if largest:
        found.append(corrupt_and_restore(drill, folder, largest, "artifact"))
    return found


@pytest.fixture(scope="session")
def restored_under_writes(
    drill: Drill, backup_under_writes: Backup, restore_drill: RestoreDrill
) -> dict[str, Any]:
    """The backup taken under writes, restored by the learner's tool and inspected."""
    folder = backup_under_writes.usable()
    target = f"{DRILL}/consistent"
    result = drill.tool(restore_command(folder, target))
    if not result.ok:
        raise LearnerFailure(
            f"`{TOOL} restore` of the backup taken under writes failed (exit {result.exit_code}):\n"
            + (result.stdout + result.stderr).strip()[-800:]
        )
    return dict(drill.probe("tables", store(target)["db"]))


@pytest.fixture(scope="session")
def runbook(submission_dir: Path) -> Runbook:
    """RUNBOOK.md, read (a missing file or a link is a runbook with nothing in it)."""
    path = submission_dir / RUNBOOK
    if path.is_symlink() or not path.is_file():
        return Runbook(problems=[f"there is no {RUNBOOK} file at the top of your project"])
    return read_runbook(path.read_text(encoding="utf-8", errors="replace"))


@dataclass
class Retention:
    """The backups planted, the number to keep, and what ``prune`` left."""

    keep: int
    created: dict[str, str]
    others: list[str]
    result: SandboxResult
    left: list[str] = field(default_factory=list)

    def newest(self) -> set[str]:
        """The names of the ``keep`` newest backups, by ``created``."""
        ordered = sorted(self.created, key=lambda name: self.created[name], reverse=True)
        return set(ordered[: self.keep])


@pytest.fixture(scope="session")
def retention(
    drill: Drill, first_backup: Backup, runbook: Runbook, restore_drill: RestoreDrill
) -> Retention:
    """``keep + 3`` dated copies of the first backup (and two non-backups), then ``prune``."""
    keep = runbook.retention()
    if keep is None:
        raise LearnerFailure("the runbook's Targets table states no Retention (like `14 backups`)")
    if keep > MAX_RETENTION:
        raise LearnerFailure(f"a retention of {keep} backups is more than this drill plants")
    root = f"{DRILL}/retention"
    planted = drill.probe("plant", root, first_backup.usable(), str(keep + 3))
    result = drill.tool(f"{TOOL} prune {root} --keep {keep}", timeout=120)
    return Retention(keep, planted["created"], planted["others"], result, drill.listing(root))


@dataclass
class RunbookDrill:
    """The runbook's own commands, run: first its Backup section's, then its restore's."""

    steps: list[tuple[str, SandboxResult]]
    problem: str = ""
    restore_failed: str = ""  # the main restore drill's failure: the commands were not run
    restored: tuple[dict[str, Any], dict[str, str]] | None = None  # tables, artifacts
    source: tuple[dict[str, Any], dict[str, str]] | None = None


@pytest.fixture(scope="session")
def runbook_drill(drill: Drill, runbook: Runbook, restore_drill: RestoreDrill) -> RunbookDrill:
    """The runbook's own commands, drilled (see :func:`drill_the_runbook`)."""
    return drill_the_runbook(drill, runbook, restore_drill)


def drill_the_runbook(drill: Drill, runbook: Runbook, restore_drill: RestoreDrill) -> RunbookDrill:
    """Back up the restored registry and restore it elsewhere, with the runbook's commands; not
    run when the main restore drill left no registry that a server could serve and the grader
    read back (the runbook's backup would fail for a reason that is not the runbook's)."""
    backups, target = f"{DRILL}/runbook-backups", f"{DRILL}/runbook-restored"
    steps: list[tuple[str, SandboxResult]] = []
    if restore_drill.snapshot is None:
        return RunbookDrill(steps, restore_failed=restore_drill.problem or "it failed")
    commands = {section: runbook.commands(section) for section in ("Backup", "Restore procedure")}
    if not commands["Backup"] or not commands["Restore procedure"]:
        return RunbookDrill(
            steps,
            f"the Backup and Restore procedure sections need `{TOOL}` lines in code blocks",
        )
    variables = {**runbook_variables(RESTORED), "BACKUP_ROOT": backups}
    for command in commands["Backup"]:
        steps.append((command, run_with(drill, command, variables)))
    made = drill.listing(backups)
    if not made or not all(result.ok for _, result in steps):
        return RunbookDrill(steps, "the Backup section's commands did not make a backup")
    variables = {
        **runbook_variables(target),
        "BACKUP_ROOT": backups,
        "BACKUP": f"{backups}/{sorted(made)[-1]}",
    }
    for command in commands["Restore procedure"]:
        steps.append((command, run_with(drill, command, variables)))
    failed = [command for command, result in steps if not result.ok]
    if failed:
        return RunbookDrill(steps, f"the runbook's command `{failed[0]}` failed")
    return RunbookDrill(
        steps, restored=registry_files(drill, target), source=registry_files(drill, RESTORED)
    )


def runbook_variables(folder: str) -> dict[str, str]:
    """$MLFLOW_DB and $MLFLOW_ARTIFACTS for the registry in ``folder``."""
    paths = store(folder)
    return {"MLFLOW_DB": paths["db"], "MLFLOW_ARTIFACTS": paths["artifacts"]}


def registry_files(drill: Drill, folder: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The registry tables' digests and the artifacts' checksums of the registry in ``folder``."""
    paths = store(folder)
    return drill.probe("tables", paths["db"]), drill.probe("tree", paths["artifacts"])


def run_with(drill: Drill, command: str, variables: dict[str, str]) -> SandboxResult:
    """Run one runbook line with its variables exported."""
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in variables.items())
    return drill.tool(f"export {exports}; {command}")


def differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """Keys missing, added or changed between two parts of a snapshot (a few of them)."""
    lines = [f"missing {key}" for key in expected if key not in found]
    lines += [f"changed {key}" for key in expected if key in found and found[key] != expected[key]]
    lines += [f"unexpected {key}" for key in found if key not in expected]
    return lines


def refused_properly(corruption: Corruption) -> str:
    """Why a restore of a corrupted backup was not a proper refusal ('' when it was)."""
    result, name = corruption.result, PurePosixPath(corruption.what).name
    if result.ok:
        return f"restored a backup whose {corruption.what} was corrupted (exit 0)"
    if result.timed_out:
        return f"did not end within {result.seconds:.0f} s on a corrupted {corruption.what}"
    if not corruption.untouched:
        return f"refused a corrupted {corruption.what}, but changed the target first"
    if name not in result.stdout + result.stderr:
        return f"refused a corrupted {corruption.what} without naming it:\n{shown(result, 4)}"
    return ""
