"""Grader of foundation/04-retraining-pipeline: its acceptance criteria, in order, one check each.

The learner's ``python -m pipeline run`` runs in a sandbox on the starter's data, then on hidden
batches it has never seen (see ``retraining_pipeline_fixtures``); each check looks at what one run
did to the project: where every batch went, what history.jsonl says, which model is served.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from graders.checks import check
from graders.errors import LearnerFailure
from graders.labs.retraining_pipeline.contract_cases import (
    good_with_decimals,
    kept_beside_its_namesake,
    quarantined,
)
from graders.labs.retraining_pipeline.crontab import parse_crontab
from graders.labs.retraining_pipeline.data import Batch
from graders.labs.retraining_pipeline.fixtures import (
    KILL_FRACTION,
    Ran,
    consumed_once,
    entry_problems,
    one_decision,
    ran,
    rows_in_training,
    served,
)
from graders.labs.retraining_pipeline.gate_cases import (
    METRIC_AGREEMENT,
    TOLERANCE,
    is_number,
    promoted_within_tolerance,
    rejected_beyond_tolerance,
)
from graders.labs.retraining_pipeline.schedule import (
    JOB_TIMEOUT,
    LOG_TAIL,
    JobRun,
    explain,
    job_script,
    written_logs,
)

FIRST = ("test_first_run_serves_a_model_and_records_it",)
IDLE_SECONDS = 10
SCHEDULE = "schedule.cron"
STARTER_BATCH = "batch-2026-11-01.csv"  # data/incoming/ of the starter: the first run decides it


@check(
    1,
    points=10,
    hint="The first run must exit 0 with no models/ yet: train on every CSV in data/training/, "
    "save the model in a new folder under models/, point models/current at it with a relative "
    "link (ln -s v0001, not an absolute path), and append one JSON object per line to "
    "history.jsonl with time, batch, decision and metrics (candidate_auc), a reason when "
    "rejected or quarantined.",
)
def test_first_run_serves_a_model_and_records_it(first_run: Ran, first_model_auc: float) -> None:
    """The first run on the starter data produces models/current and a history entry"""
    outcome = first_run.outcome
    ran(outcome)
    served(outcome, "after the first run")
    history = outcome.state["history"]
    assert history["exists"], "the first run wrote no history.jsonl"
    assert not history["errors"], f"history.jsonl does not parse: {history['errors'][:3]}"
    assert history["entries"], "history.jsonl is empty after the first run"
    for entry in history["entries"]:
        problems = entry_problems(entry)
        assert not problems, f"history entry {entry} breaks the format: {'; '.join(problems)}"
    assert any(e["decision"] == "promoted" for e in history["entries"]), (
        "no history entry records the promotion of the first model"
    )
    first = [e.get("decision") for e in history["entries"] if e.get("batch") is None]
    starter = [e.get("decision") for e in history["entries"] if e.get("batch") == STARTER_BATCH]
    assert first == ["promoted"] and starter in (["promoted"], ["rejected"]), (
        "the first run makes two decisions: the first model, trained on data/training/ alone "
        f"(batch null), then {STARTER_BATCH} on its own; history.jsonl has {first} for the "
        f"first model and {starter} for {STARTER_BATCH}"
    )
    (entry,) = [e for e in history["entries"] if e.get("batch") is None]
    recorded: Any = (entry.get("metrics") or {}).get("candidate_auc")
    assert is_number(recorded) and abs(recorded - first_model_auc) <= METRIC_AGREEMENT, (
        f"the first model's entry records candidate_auc {str(recorded)[:40]}, but model.fit on "
        f"data/training/ alone scores {first_model_auc} on data/holdout.csv (the grader's own "
        f"figure): the first model is trained on data/training/ only, before {STARTER_BATCH} "
        "is decided"
    )


@check(
    2,
    points=15,
    requires=FIRST,
    hint="For a good batch: retrain on the whole training set plus the batch, serve the new model "
    "as a new version, record one promoted entry whose metrics.candidate_auc is the AUC "
    "model.auc gives on data/holdout.csv, then move the batch unchanged into data/training/.",
)
def test_good_batch_is_consumed_and_promoted(
    first_run: Ran, good_batch_run: Ran, hidden: dict[str, Batch]
) -> None:
    """A good batch is consumed, the model retrained and promoted, the metric recorded"""
    before, outcome, good = first_run.outcome, good_batch_run.outcome, hidden["good"]
    ran(outcome)
    consumed_once(outcome, good, "training")
    entry = one_decision(outcome, good, "promoted")
    now = served(outcome, "after promoting a batch")
    assert now["sha256"] != before.state["current"]["sha256"], (
        f"history says {good.name} was promoted, but models/current serves the same model as before"
    )
    recorded = entry["metrics"].get("candidate_auc")
    scored = cast(float, now["holdout_auc"])  # served() passes only a model that predicts
    assert isinstance(recorded, float | int) and abs(recorded - scored) <= METRIC_AGREEMENT, (
        f"history records candidate_auc {recorded} for {good.name}, but the promoted model "
        f"scores {now['holdout_auc']} ROC AUC on data/holdout.csv"
    )


@check(
    3,
    points=20,
    requires=FIRST,
    hint="Check every batch against the data contract before training on it: columns, empty "
    "values, numbers, whole numbers (12.0 is one), ranges, categories, a file that ends in the "
    "middle of a line, a repeat of a batch already decided. Move a bad one unchanged to "
    "data/quarantine/ with a <batch>.reason.txt naming the column (or the batch it repeats), "
    "record it and go on. Never overwrite a file: a name already taken gets a new one.",
)
def test_bad_batch_is_quarantined_and_good_ones_go_on(
    first_run: Ran, hidden: dict[str, Batch], progress: Callable[[str], None]
) -> None:
    """A batch that breaks the data contract is quarantined with a reason; the model is
    untouched; a good batch in the same run is still processed"""
    progress("a run with batches that break the data contract and good ones")
    bad = [batch for role, batch in hidden.items() if role.startswith("bad-")]
    bad += [hidden["cut"], hidden["duplicate"]]
    good, taken = hidden["good-among-bad"], hidden["name-taken"]
    project = first_run.project.copy("quarantine")
    project.add(*bad, good, taken)
    outcome = project.run(watched=(*bad, good, taken))
    ran(outcome, "a run with bad batches")
    for batch in bad:
        if not batch.repeats:
            quarantined(outcome, batch)
    good_with_decimals(outcome, good)
    kept_beside_its_namesake(first_run.outcome, outcome, taken, hidden["duplicate"])
    quarantined(outcome, hidden["duplicate"], first_run.outcome)


@check(
    4,
    points=15,
    requires=FIRST,
    hint="Score the current model and the candidate on the same holdout; promote only when the "
    "candidate is at most 0.01 worse. Otherwise keep serving the current model, record a "
    "rejected entry with candidate_auc and current_auc, and move the batch, unchanged and "
    "untrained on, to data/rejected/.",
)
def test_poisoned_batch_is_not_promoted(
    first_run: Ran, hidden: dict[str, Batch], progress: Callable[[str], None]
) -> None:
    """A poisoned batch (labels flipped) yields a worse candidate that is not promoted; the
    rejection is recorded"""
    progress("a run with two batches whose labels are flipped: the gate on both sides")
    poisoned, slight = hidden["poisoned"], hidden["worse-within-tolerance"]
    project = first_run.project.copy("poisoned")
    project.add(poisoned, slight)
    outcome = project.run(watched=(poisoned, slight))
    ran(outcome, "a run with poisoned batches")
    # the first run's model was served (a prerequisite), so it predicted
    before = cast(float, first_run.outcome.state["current"]["holdout_auc"])
    promoted_within_tolerance(outcome, slight, before)
    after = cast(float, served(outcome, "after the gate's run")["holdout_auc"])
    # decided next, against the model the promotion serves (its current_auc is that model's)
    rejected_beyond_tolerance(outcome, poisoned, after)
    assert after >= before - TOLERANCE, (
        f"the served model now scores {after} ROC AUC on the holdout, {before} before the run"
    )


@check(
    5,
    points=10,
    requires=FIRST,
    hint="When data/incoming/ has no new batch and a model is served, exit 0 before importing "
    "pandas or scikit-learn: no training, no new model, no history line, no log, no file "
    "rewritten (the grader compares every file before and after).",
)
def test_run_without_new_data_changes_nothing(
    good_batch_run: Ran, progress: Callable[[str], None]
) -> None:
    """A run with no new data changes nothing and finishes fast"""
    progress("a run with no new data")
    before = good_batch_run.outcome.state["tree"]
    outcome = good_batch_run.project.copy("idle").run()
    run = ran(outcome, "a run with no new data")
    after = outcome.state["tree"]
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert not changed, f"a run with no new data changed {len(changed)} files: {changed[:8]}"
    seconds = run["seconds"]
    assert seconds <= IDLE_SECONDS, (
        f"a run with no new data took {seconds:.1f} s (at most {IDLE_SECONDS} s)"
    )


@check(
    6,
    points=20,
    requires=FIRST,
    hint="Write a new model into a new folder, then swap models/current with one rename (never "
    "write into the served folder); record a decision before moving its batch; on start-up, "
    "remove the temporary files a killed run left and finish the move of a batch the history "
    "already decided instead of deciding it again.",
)
def test_killed_run_recovers(
    first_run: Ran,
    good_batch_run: Ran,
    hidden: dict[str, Batch],
    progress: Callable[[str], None],
) -> None:
    """Killed in the middle of a run, the next run leaves a valid models/current and no
    half-written files; no batch is lost or counted twice"""
    good = hidden["good"]
    calibration = good_batch_run.outcome.run
    for violation in calibration["violations"] if calibration else []:
        raise LearnerFailure(
            f"while your pipeline promoted a model, {violation}: a server reading "
            "models/current at that moment would have loaded a torn model"
        )
    until_write = (
        (calibration["first_model_write"] or calibration["seconds"]) if calibration else 1.0
    )
    kills: dict[str, dict[str, Any]] = {
        f"while it trains ({KILL_FRACTION * until_write:.1f} s in)": {
            "kill_after": KILL_FRACTION * until_write
        },
        "as it starts writing under models/": {"kill_on_model_write": True},
    }
    for number, (moment, how) in enumerate(kills.items()):
        progress(f"a run killed {moment}, then the next run")
        project = first_run.project.copy(f"killed-{number}")
        project.add(good)
        killed = project.run(watched=(good,), **how)
        for violation in killed.run["violations"] if killed.run else []:
            raise LearnerFailure(f"killed {moment}: {violation}")
        served(killed, f"right after the run was killed {moment},")
        recovered = project.run(watched=(good,))
        ran(recovered, f"the run after a run killed {moment}")
        state = recovered.state
        bad_files = state["invalid"]
        assert not bad_files, f"after a run killed {moment} and the next run: {bad_files[:5]}"
        entry = one_decision(recovered, good, "promoted", "rejected")
        consumed_once(
            recovered, good, "training" if entry["decision"] == "promoted" else "rejected"
        )
        rows = rows_in_training(recovered, good)
        expected = good.content.count(b"\n") - 1 if entry["decision"] == "promoted" else 0
        assert rows == expected, (
            f"after a run killed {moment} and the next run, the training set holds {rows} rows "
            f"of {good.name}, not {expected}"
        )
        served(recovered, f"after a run killed {moment} and the next run,")


@check(
    7,
    points=10,
    requires=FIRST,
    hint="One job line: five valid time fields or a macro such as @daily (not @reboot), then "
    'cd "$PROJECT_DIR" && python -m pipeline run. cron runs it as $SHELL -c (SHELL=/bin/sh unless '
    "the crontab sets it) from the home folder with PATH=/usr/bin:/bin: set PATH= above the job "
    "line, with the folder of python in it. Exit 127 means a command was not found.",
)
def test_schedule_runs_the_pipeline(
    first_run: Ran,
    submission_dir: Path,
    hidden: dict[str, Batch],
    progress: Callable[[str], None],
) -> None:
    """The schedule definition is valid and runs the documented command"""
    path = submission_dir / SCHEDULE
    if not path.is_file():
        raise LearnerFailure(f"there is no {SCHEDULE}")
    try:
        _, jobs = parse_crontab(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError as error:
        raise LearnerFailure(f"{SCHEDULE} is not a valid crontab: {error}") from None
    assert len(jobs) == 1, f"{SCHEDULE} must have one job line; it has {len(jobs)}"
    job = jobs[0]
    progress(f"running the job of {SCHEDULE} as cron would")
    scheduled = hidden["scheduled"]
    project = first_run.project.copy("scheduled")
    project.add(scheduled)
    script, variables = job_script(job, project.path)
    done = project.workspace.run(script, cwd="/tmp", timeout=JOB_TIMEOUT)
    outcome = project.look(watched=(scheduled,))
    if outcome.decisions(scheduled):
        return
    before = first_run.outcome.state["tree"]  # the copy's, but for its logs and data
    tail = f"tail -c {LOG_TAIL} -- "
    logs = {
        log: project.workspace.run(tail + shlex.quote(log), cwd=project.path).stdout
        for log in written_logs(before, outcome.state["tree"])[:3]
    }
    raise LearnerFailure(
        f"the job of {SCHEDULE} (line {job.line}), run as cron would ({variables['SHELL']} -c, "
        f"from the home folder, PATH={variables['PATH']}, PROJECT_DIR set to the project), did "
        f"not process the new batch: {explain(JobRun(script, variables, done), logs)}"
    )
