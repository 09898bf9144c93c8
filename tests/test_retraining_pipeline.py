"""The retraining-pipeline lab's own pieces: its data, the crontab reader, and the probe that
watches a run (on a real engine, with tiny stand-in pipelines that make each mistake on purpose)."""

from __future__ import annotations

import csv
import io
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import docker
import pytest

from graders.catalogue import find_lab
from graders.containers.cleanup import remove_run_resources
from graders.containers.sandbox import SandboxResult, runner_image
from graders.containers.workspace import Workspace, open_workspace, stage_readable
from graders.errors import LearnerFailure
from graders.fixtures.scenario import copy_probe
from graders.labs._shared.churn import HEADER
from graders.labs.retraining_pipeline import probe
from graders.labs.retraining_pipeline.contract_cases import kept_beside_its_namesake, quarantined
from graders.labs.retraining_pipeline.crontab import job_environment, parse_crontab, split_percent
from graders.labs.retraining_pipeline.data import (
    COLUMNS,
    SHIPPED,
    Batch,
    hidden_batches,
    shipped_files,
    write_shipped,
)
from graders.labs.retraining_pipeline.fixtures import RunResult
from graders.labs.retraining_pipeline.schedule import (
    JobRun,
    explain,
    job_script,
    missing_command,
    written_logs,
)

LAB = find_lab("foundation/04-retraining-pipeline")
SHARED_CODE = ("pipeline/__init__.py", "pipeline/__main__.py", "pipeline/model.py")
RANGES = {"tenure_months": (0, 72), "support_calls": (0, 10), "age": (18, 90), "churned": (0, 1)}
CATEGORIES = {
    "contract": {"month-to-month", "one-year", "two-year"},
    "payment_method": {"card", "bank-transfer", "electronic-check", "mailed-check"},
    "internet_service": {"fiber", "dsl", "none"},
}


def table(batch: Batch) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(batch.content.decode())))


def test_shipped_data_regenerates_byte_for_byte(tmp_path: Path) -> None:
    write_shipped(tmp_path)
    for path in SHIPPED:
        assert (tmp_path / path).read_bytes() == (LAB.starter / "data" / path).read_bytes()
        assert (LAB.solution / "data" / path).read_bytes() == (tmp_path / path).read_bytes()


def test_starter_and_solution_share_the_provided_code() -> None:
    for path in SHARED_CODE:
        assert (LAB.starter / path).read_text() == (LAB.solution / path).read_text(), path


def test_hidden_batches_have_new_customers_and_distinct_files() -> None:
    batches = hidden_batches()
    shipped = {
        row.split(",")[0]
        for content in shipped_files().values()
        for row in content.decode().split()
    }
    seen: set[str] = set()
    for role, batch in batches.items():
        if role == "duplicate":
            continue
        ids = {row["customer_id"] for row in table(batch)}
        assert not ids & shipped and not ids & seen, batch.name
        seen |= ids
    assert len({b.file for b in batches.values()}) == len(batches)


def test_each_bad_batch_breaks_only_its_column() -> None:
    for role, batch in hidden_batches().items():
        broken = {column for row in table(batch) for column in contract_breaches(row)}
        if role.startswith("bad-"):
            assert broken == {batch.broken_column}, batch.name
        else:
            assert not broken, batch.name


def test_the_readme_cases_are_in_the_hidden_batches() -> None:
    batches = hidden_batches()
    shipped = shipped_files()["incoming/batch-2026-11-01.csv"]
    duplicate, taken = batches["duplicate"], batches["name-taken"]
    assert duplicate.content == shipped and duplicate.name != duplicate.repeats
    assert taken.name == duplicate.repeats and taken.content != shipped and taken.file != taken.name
    cut = batches["cut"].content
    last = cut.decode().splitlines()[-1].split(",")
    assert not cut.endswith(b"\n") and len(last) == len(COLUMNS)
    assert cut.decode().splitlines()[0].endswith(",monthly_charges")
    assert 18 <= float(last[-1]) <= 120  # the cut charge still looks valid
    decimals = [row["tenure_months"] for row in table(batches["good-among-bad"])]
    assert "0.0" in decimals or any(value.endswith(".0") for value in decimals)


def contract_breaches(row: dict[str, Any]) -> set[str]:
    """The columns of ``row`` that break the lab's data contract (a plain reading of it)."""
    found = {column for column in HEADER.split(",") if column not in row}
    for column, (low, high) in RANGES.items():
        value = row.get(column)
        try:
            assert value is None or (float(value).is_integer() and low <= float(value) <= high)
        except (ValueError, AssertionError):
            found.add(column)
    for column, allowed in CATEGORIES.items():
        if column in row and row[column] not in allowed:
            found.add(column)
    if row.get("customer_id") == "":
        found.add("customer_id")
    charges = row.get("monthly_charges")
    if charges is not None:
        try:
            assert 18 <= float(charges) <= 120
        except (ValueError, AssertionError):
            found.add("monthly_charges")
    return found


@pytest.mark.parametrize(
    ("role", "seed", "count", "first_id"),
    [("poisoned", 4703, 3_000, 2_000_001), ("worse-within-tolerance", 4701, 1_500, 2_500_001)],
)
def test_the_gate_batches_have_every_label_flipped_and_the_measured_seeds(
    role: str, seed: int, count: int, first_id: int
) -> None:
    from graders.labs._shared.churn import churn_rows

    rows = table(hidden_batches()[role])
    original = [line.rsplit(",", 1)[1] for line in churn_rows(seed, count, first_id)]
    assert [row["churned"] for row in rows] == [str(1 - int(v)) for v in original]


def test_the_bad_batches_cover_every_rule_of_the_contract_table() -> None:
    bad = [b for role, b in hidden_batches().items() if role.startswith("bad-")]
    assert {b.broken_column for b in bad} >= {
        "support_calls", "monthly_charges", "tenure_months", "age", "customer_id",
        "internet_service",
    }  # fmt: skip
    values: dict[str, set[str]] = {}
    for batch in bad[1:]:  # the first lacks its column
        values.setdefault(batch.broken_column, set()).update(
            r[batch.broken_column] for r in table(batch)
        )
    assert "-1" in values["tenure_months"] and "11" in values["support_calls"]  # just outside
    assert "Fiber" in values["internet_service"] and "12.5" in values["tenure_months"]
    assert "" in values["customer_id"] and "" in values["age"]


def test_a_link_removed_and_made_again_and_a_copied_batch_are_seen_however_short(
    tmp_path: Path,
) -> None:
    models, training = tmp_path / "models", tmp_path / "data" / "training"
    (models / "v1").mkdir(parents=True)
    (models / "v2").mkdir()
    training.mkdir(parents=True)
    (models / "current").symlink_to("v1")
    watch = probe.LinkWatch(tmp_path)
    (models / "next").symlink_to("v2")
    (models / "next").replace(models / "current")  # one rename over it: never gone
    (tmp_path / "batch.csv").write_text("a\n1\n")
    (tmp_path / "batch.csv").rename(training / "batch.csv")  # moved in with one rename
    assert watch.seen() == []
    (models / "current").unlink()
    (models / "current").symlink_to("v1")
    assert watch.seen() == [probe.LINK_GAP] and watch.seen() == []
    (models / "current").rename(models / "old")
    assert watch.seen() == [probe.LINK_GAP]
    (training / "copied.csv").write_text("a\n1\n")
    (said,) = set(watch.seen())
    assert said.startswith("data/training/copied.csv was written, not moved in")
    watch.close()


@pytest.mark.parametrize(
    ("text", "schedule", "command"),
    [
        (
            "30 2 * * * cd /srv && python -m pipeline run",
            "30 2 * * *",
            "cd /srv && python -m pipeline run",
        ),
        (
            "*/15 0-6,22-23 1-31/2 jan-dec mon-fri run",
            "*/15 0-6,22-23 1-31/2 jan-dec mon-fri",
            "run",
        ),
        ("@daily run", "@daily", "run"),
        ("# a comment\nPATH=/usr/local/bin:/usr/bin\n\n0 0 * * 7 run", "0 0 * * 7", "run"),
    ],
)
def test_crontab_job_lines_are_read_like_cron(text: str, schedule: str, command: str) -> None:
    _, jobs = parse_crontab(text)
    assert [(job.schedule, job.command) for job in jobs] == [(schedule, command)]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("30 2 * * python -m pipeline run", "'python' is not a valid day of week"),
        ("60 2 * * * run", "'60' is not a valid minute"),
        ("0 5-1 * * * run", "runs backwards"),
        ("*/0 * * * * run", "bad step"),
        ("@reboot run", "not a schedule"),
        ("@fortnightly run", "unknown schedule"),
        ("0 0 * *", "five time fields"),
    ],
)
def test_crontab_lines_cron_rejects_name_the_line_and_why(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match="line 1") as raised:
        parse_crontab(text)
    assert complaint in str(raised.value)


def test_crontab_environment_lines_lose_one_pair_of_quotes() -> None:
    environment, jobs = parse_crontab('PROJECT_DIR="/srv/my project"\nA = b\n@hourly x\n')
    assert environment == {"PROJECT_DIR": "/srv/my project", "A": "b"} and len(jobs) == 1


def test_crontab_percent_ends_the_command_unless_escaped() -> None:
    assert split_percent(r"date +\%F >> log") == ("date +%F >> log", "")
    assert split_percent("mail -s hi me%line one%line two") == (
        "mail -s hi me",
        "line one\nline two",
    )


@pytest.mark.parametrize(
    ("text", "schedule", "command"),
    [
        ("@daily\tcd /srv && run", "@daily", "cd /srv && run"),
        ("@hourly \t  run", "@hourly", "run"),
        ("30\t2\t*\t*\t*\trun  it", "30 2 * * *", "run  it"),
    ],
)
def test_crontab_fields_are_separated_by_any_blanks(text: str, schedule: str, command: str) -> None:
    _, jobs = parse_crontab(text)
    assert [(job.schedule, job.command) for job in jobs] == [(schedule, command)]


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("PATH=/usr/local/bin:/usr/bin", "PATH", "/usr/local/bin:/usr/bin"),
        ('PATH = "/opt/my venv/bin:/usr/bin"  ', "PATH", "/opt/my venv/bin:/usr/bin"),
        ("\tSHELL\t=\t/bin/bash\t", "SHELL", "/bin/bash"),
        ("A='x y'", "A", "x y"),
        ('MAILTO=""', "MAILTO", ""),
        ("MAILTO=", "MAILTO", ""),
        ("B=$HOME/x", "B", "$HOME/x"),  # taken literally: no expansion
        ('C=a "b" c', "C", 'a "b" c'),  # quotes count only around the whole value
        ("CRON_TZ=Europe/Paris", "CRON_TZ", "Europe/Paris"),
        ('"MY VAR"=1', "MY VAR", "1"),
    ],
)
def test_crontab_environment_lines_follow_crons_quoting(line: str, name: str, value: str) -> None:
    environment, jobs = parse_crontab(line + "\n@daily run\n")
    assert environment == {name: value} and jobs[0].environment == {name: value}


@pytest.mark.parametrize("line", ['A="x" y', "A='x", 'PATH="/usr/bin" # a comment', "=x"])
def test_crontab_lines_cron_cannot_read_as_variables_are_refused(line: str) -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_crontab(line + "\n")


def test_a_variable_line_can_look_like_a_job() -> None:
    environment, jobs = parse_crontab("A=1 * * * * run\n")  # cron: A is "1 * * * * run"
    assert environment == {"A": "1 * * * * run"} and jobs == []


def test_crontab_variables_apply_to_the_jobs_below_them() -> None:
    _, jobs = parse_crontab("SHELL=/bin/bash\n@daily a\nPATH=/opt/bin\n@hourly b\n")
    assert jobs[0].environment == {"SHELL": "/bin/bash"}
    assert jobs[1].environment == {"SHELL": "/bin/bash", "PATH": "/opt/bin"}


def test_cron_runs_a_job_with_its_defaults_and_the_crontabs_variables() -> None:
    _, (plain,) = parse_crontab("@daily run\n")
    assert job_environment(plain, "/home/u", "u") == {
        "SHELL": "/bin/sh",
        "PATH": "/usr/bin:/bin",
        "HOME": "/home/u",
        "LOGNAME": "u",
        "USER": "u",
    }
    _, (set_up,) = parse_crontab("SHELL=/bin/bash\nPATH=/opt\nLOGNAME=root\nMAILTO=x\n@daily r\n")
    found = job_environment(set_up, "/home/u", "u")
    assert (found["SHELL"], found["PATH"], found["LOGNAME"], found["MAILTO"]) == (
        "/bin/bash",
        "/opt",
        "u",  # LOGNAME is the crontab owner's, whatever the crontab says
        "x",
    )


def run_like_cron(crontab: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a crontab's job on this machine the way the grader does in its sandbox."""
    _, (job,) = parse_crontab(crontab)
    script, _ = job_script(job, str(tmp_path))
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)


BASH_JOB = '@daily [[ -d "$PROJECT_DIR" ]] && echo "$SHELL $PATH" > "$PROJECT_DIR/out"\n'


def test_a_job_needing_bash_fails_under_crons_default_shell(tmp_path: Path) -> None:
    done = run_like_cron(BASH_JOB, tmp_path)
    assert done.returncode == 127 and not (tmp_path / "out").exists()
    assert missing_command(done.stderr) == "[["


def test_a_job_needing_bash_runs_with_shell_bash_and_the_crontabs_path(tmp_path: Path) -> None:
    done = run_like_cron('SHELL=/bin/bash\nPATH = "/usr/bin:/bin:/opt"\n' + BASH_JOB, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_text() == "/bin/bash /usr/bin:/bin:/opt\n"


def test_a_command_only_the_crontabs_path_finds(tmp_path: Path) -> None:
    tool = tmp_path / "bin" / "only-here"
    tool.parent.mkdir()
    tool.write_text('#!/bin/sh\necho found > "$PROJECT_DIR/out"\n')
    tool.chmod(0o755)
    job = '@daily cd "$PROJECT_DIR" && only-here\n'
    assert run_like_cron(job, tmp_path).returncode == 127
    assert run_like_cron(f"PATH={tool.parent}:/usr/bin:/bin\n{job}", tmp_path).returncode == 0
    assert (tmp_path / "out").read_text() == "found\n"


def test_a_failed_job_is_explained_with_its_exit_code_and_its_log() -> None:
    done = SandboxResult(127, "", "", 0.5)
    log = "sh: 1: python: not found\n"
    message = explain(JobRun("", {"PATH": "/usr/bin:/bin"}, done), {"retrain.log": log})
    assert "exited 127 (command not found: 'python', searched in the job's PATH=/usr/bin:/bin)" in (
        message
    )
    assert "the end of retrain.log:\n    sh: 1: python: not found" in message
    quiet = explain(
        JobRun(
            "",
            {"PATH": "/p", "SHELL": "/bin/sh"},
            SandboxResult(0, "", "sh: 1: [[: not found", 0.1),
        ),
        {},
    )
    assert "exited 0, and its output says a command was not found: '[['" in quiet
    assert "[[ is bash, and the job ran with SHELL=/bin/sh" in quiet
    assert "the end of" not in quiet
    assert missing_command("bash: line 1: python: command not found") == "python"
    assert missing_command("env: '/bin/zsh': No such file or directory") == "/bin/zsh"
    assert written_logs({"a": "1", "data/x": "1"}, {"a": "2", "data/x": "2", "h.log": "3"}) == [
        "a",
        "h.log",
    ]


def outcome(locations: dict[str, list[str]], entries: list[dict[str, Any]]) -> RunResult:
    """A run's outcome as the probe reports it, with only what criterion 3 reads."""
    batches = {
        b.file: {"locations": locations.get(b.file, []), "training_rows": 0}
        for b in hidden_batches().values()
    }
    state = {"batches": batches, "history": {"entries": entries}, "reasons": {}}
    return RunResult(None, cast(Any, state))


FIRST_ENTRY = {"batch": "batch-2026-11-01.csv", "decision": "promoted"}


def test_a_new_batch_under_a_taken_name_must_not_replace_the_older_file() -> None:
    taken, duplicate = hidden_batches()["name-taken"], hidden_batches()["duplicate"]
    before = outcome({}, [FIRST_ENTRY])
    new_entry = {"batch": taken.name, "decision": "promoted"}
    kept = outcome(
        {
            taken.file: ["data/training/batch-2026-11-01-3fa2c1d0.csv"],
            duplicate.file: ["data/training/batch-2026-11-01.csv"],
        },
        [FIRST_ENTRY, new_entry],
    )
    kept_beside_its_namesake(before, kept, taken, duplicate)
    overwritten = outcome(
        {taken.file: ["data/training/batch-2026-11-01.csv"]}, [FIRST_ENTRY, new_entry]
    )
    with pytest.raises(LearnerFailure, match="no longer holds its bytes"):
        kept_beside_its_namesake(before, overwritten, taken, duplicate)
    taken_for_decided = outcome(
        {duplicate.file: ["data/training/batch-2026-11-01.csv"]}, [FIRST_ENTRY]
    )
    with pytest.raises(LearnerFailure, match="one new entry for it, it has 0"):
        kept_beside_its_namesake(before, taken_for_decided, taken, duplicate)


def test_a_repeated_batch_must_be_quarantined_naming_the_batch_it_repeats() -> None:
    duplicate = hidden_batches()["duplicate"]
    before = outcome({}, [FIRST_ENTRY])
    trained = outcome(
        {
            duplicate.file: [
                "data/training/batch-2026-11-01.csv",
                "data/training/batch-2026-11-09.csv",
            ]
        },
        [FIRST_ENTRY, {"batch": duplicate.name, "decision": "promoted"}],
    )
    with pytest.raises(LearnerFailure, match="a repeated batch is never trained on again"):
        quarantined(trained, duplicate, before)


# The probe, on a real engine: tiny pipelines that each do one thing to the served model.
IN_PLACE = """
import time, pathlib
time.sleep(0.3)
pathlib.Path("models/current/model.joblib").write_bytes(b"new")
"""
WITH_A_GAP = """
import shutil, time, pathlib
time.sleep(0.3)
shutil.rmtree("models/v1")
time.sleep(0.2)
pathlib.Path("models/v1").mkdir()
pathlib.Path("models/v1/model.joblib").write_bytes(b"new")
"""
ATOMIC = """
import os, pathlib, time
time.sleep(0.3)
pathlib.Path("models/v2").mkdir()
pathlib.Path("models/v2/model.joblib").write_bytes(b"new")
os.symlink("v2", "models/.next")
os.replace("models/.next", "models/current")
"""
SLOW = """
import pathlib, time
time.sleep(0.5)
pathlib.Path("models/.tmp-v2").mkdir()
time.sleep(30)
"""


@pytest.fixture(scope="module")
def probe_workspace(
    docker_engine: docker.DockerClient, tmp_path_factory: Any
) -> Iterator[Workspace]:
    run_id = "test-" + uuid.uuid4().hex[:8]
    folder = tmp_path_factory.mktemp("probe") / "grader"
    folder.mkdir()
    copy_probe("graders.labs.retraining_pipeline", folder)
    (folder / "holdout.csv").write_text(HEADER + "\n")
    try:
        with open_workspace(
            docker_engine,
            runner_image(docker_engine),
            run_id=run_id,
            mounts={stage_readable(folder, folder.with_name("mounted")): "/grader"},
            env={"HOME": "/tmp"},
        ) as workspace:
            yield workspace
    finally:
        remove_run_resources(docker_engine, run_id)


def watched(workspace: Workspace, pipeline: str, *flags: str) -> dict[str, Any]:
    """Make a project whose served model is models/v1, with ``pipeline`` as its run; watch it."""
    project = f"/work/{uuid.uuid4().hex[:8]}"
    setup = (
        f"mkdir -p {project}/pipeline {project}/models/v1 {project}/data && cd {project} && "
        "printf old > models/v1/model.joblib && ln -s v1 models/current && "
        f"cat > pipeline/__main__.py <<'EOF'\n{pipeline}\nEOF"
    )
    assert workspace.run(setup).ok
    found = workspace.probe("run", project, "--holdout=/grader/holdout.csv", *flags)
    return dict(found)


@pytest.mark.docker
def test_probe_sees_the_served_model_written_in_place(probe_workspace: Workspace) -> None:
    run = watched(probe_workspace, IN_PLACE)["run"]
    assert run["violations"] == ["models/current/model.joblib was written in place"]


@pytest.mark.docker
def test_probe_sees_models_current_missing_for_a_moment(probe_workspace: Workspace) -> None:
    run = watched(probe_workspace, WITH_A_GAP)["run"]
    assert "models/current had no model.joblib for a moment" in run["violations"]


@pytest.mark.docker
def test_probe_accepts_a_link_swapped_with_one_rename(probe_workspace: Workspace) -> None:
    found = watched(probe_workspace, ATOMIC)
    assert found["run"]["violations"] == [] and found["run"]["exit_code"] == 0
    assert found["state"]["current"]["link"] == "v2"
    assert 0.2 < found["run"]["first_model_write"] < 5


@pytest.mark.docker
def test_probe_kills_the_whole_run_at_the_first_write_under_models(
    probe_workspace: Workspace,
) -> None:
    found = watched(probe_workspace, SLOW, "--kill-on-model-write")
    assert found["run"]["killed"] and found["run"]["seconds"] < 5
    assert "models/.tmp-v2: a leftover of an unfinished run" in found["state"]["invalid"]


@pytest.mark.docker
def test_probe_kills_after_the_given_seconds(probe_workspace: Workspace) -> None:
    run = watched(probe_workspace, SLOW, "--kill-after=1")["run"]
    assert run["killed"] and not run["timed_out"] and 1 <= run["seconds"] < 5


@pytest.mark.docker
def test_probe_state_flags_half_written_files(probe_workspace: Workspace) -> None:
    project = f"/work/{uuid.uuid4().hex[:8]}"
    assert probe_workspace.run(
        f"mkdir -p {project}/data/training {project}/models && cd {project} && "
        "printf 'a,b\\n1,2\\n3' > data/training/cut.csv && printf 'a,b\\n1,2\\n' > data/ok.csv && "
        "printf '{' > models/meta.json && touch data/.gitkeep models/model.joblib~"
    ).ok
    found = probe_workspace.probe("state", project, "--holdout=/grader/holdout.csv")
    assert found["state"]["invalid"] == [
        "data/training/cut.csv: ends in the middle of a line",
        "models/meta.json: cannot be read (JSONDecodeError: Expecting property name enclosed in "
        "double quotes: line 1 column 2 (char 1))",
        "models/model.joblib~: a leftover of an unfinished run",
    ]
