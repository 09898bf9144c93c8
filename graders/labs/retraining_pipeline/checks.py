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
from graders.labs.retraining_pipeline.crontab import parse_crontab
from graders.labs.retraining_pipeline.data import Batch
from graders.labs.retraining_pipeline.fixtures import (
    KILL_FRACTION,
    Ran,
    consumed_once,
    entry_problems,
    one_decision,
    ran,
    served,
    where,
)

FIRST = ("test_first_run_serves_a_model_and_records_it",)
TOLERANCE = 0.01
METRIC_AGREEMENT = 0.001
IDLE_SECONDS = 10
SCHEDULE = "schedule.cron"
CRON_ENVIRONMENT = {
    "HOME": "/tmp",
    "SHELL": "/bin/sh",
    "PATH": "/usr/bin:/bin",
    "LOGNAME": "runner",
}


@check(
    1,
    points=10,
    hint="With no models/current yet, train on data/training/, save the model in a new folder "
    "under models/, point models/current at it with a relative link, and append a JSON line "
    "to history.jsonl.",
)
def test_first_run_serves_a_model_and_records_it(first_run: Ran) -> None:
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


@check(
    2,
    points=15,
    requires=FIRST,
    hint="Move a good batch into data/training/ (unchanged), retrain on the whole training set, "
    "score the candidate on data/holdout.csv and record that score as metrics.candidate_auc.",
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
    hint="Validate each batch against the data contract before using it; move a bad one to "
    "data/quarantine/ with a <batch>.reason.txt naming the column and the rule, record it, and "
    "go on with the next batch.",
)
def test_bad_batch_is_quarantined_and_good_ones_go_on(
    first_run: Ran, hidden: dict[str, Batch], progress: Callable[[str], None]
) -> None:
    """A batch that breaks the data contract is quarantined with a reason; the model is
    untouched; a good batch in the same run is still processed"""
    progress("a run with four batches that break the data contract and one good batch")
    bad = [batch for role, batch in hidden.items() if role.startswith("bad-")]
    good = hidden["good-among-bad"]
    project = first_run.project.copy("quarantine")
    project.add(*bad, good)
    outcome = project.run(watched=(*bad, good))
    ran(outcome, "a run with bad batches")
    reasons = outcome.state["reasons"]
    for batch in bad:
        consumed_once(outcome, batch, "quarantine")
        one_decision(outcome, batch, "quarantined")
        reason = reasons.get(batch.name, "").strip()
        assert reason, f"data/quarantine/{batch.name}.reason.txt is missing or empty"
        assert batch.broken_column in reason, (
            f"the reason for {batch.name} does not name the column that breaks the contract "
            f"({batch.broken_column}): {reason[:200]!r}"
        )
        rows = outcome.state["batches"][batch.name]["training_rows"]
        assert rows == 0, f"{rows} rows of the bad batch {batch.name} reached the training set"
    entry = one_decision(outcome, good, "promoted", "rejected")
    consumed_once(outcome, good, "training" if entry["decision"] == "promoted" else "rejected")


@check(
    4,
    points=15,
    requires=FIRST,
    hint="Score the current model and the candidate on the same holdout; promote only when the "
    "candidate is at most 0.01 worse, otherwise record a rejected decision with both scores.",
)
def test_poisoned_batch_is_not_promoted(
    first_run: Ran, hidden: dict[str, Batch], progress: Callable[[str], None]
) -> None:
    """A poisoned batch (labels flipped) yields a worse candidate that is not promoted; the
    rejection is recorded"""
    progress("a run with a batch whose labels are flipped")
    poisoned = hidden["poisoned"]
    project = first_run.project.copy("poisoned")
    project.add(poisoned)
    outcome = project.run(watched=(poisoned,))
    ran(outcome, "a run with a poisoned batch")
    entry = one_decision(outcome, poisoned, "rejected")
    metrics = entry["metrics"]
    candidate, current = metrics.get("candidate_auc"), metrics.get("current_auc")
    assert isinstance(current, float | int) and candidate < current, (
        f"the rejection of {poisoned.name} does not record both scores (candidate_auc "
        f"{candidate}, current_auc {current})"
    )
    # the first run's model was served (a prerequisite), so both predicted
    before = cast(float, first_run.outcome.state["current"]["holdout_auc"])
    after = cast(float, served(outcome, "after a rejection")["holdout_auc"])
    assert after >= before - TOLERANCE, (
        f"the served model now scores {after} ROC AUC on the holdout, {before} before the run"
    )
    rows = outcome.state["batches"][poisoned.name]["training_rows"]
    assert rows == 0, f"{rows} rows of the rejected batch stayed in the training set"
    assert where(outcome, poisoned), f"{poisoned.name} is gone: a rejected batch is kept"
    assert not any(p.startswith("data/incoming/") for p in where(outcome, poisoned)), (
        f"{poisoned.name} is still in data/incoming/: the next run would decide on it again"
    )


@check(
    5,
    points=10,
    requires=FIRST,
    hint="When data/incoming/ has no new batch, exit 0 at once: no training, no new model, "
    "no history line, no file touched.",
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
    hint="Write a new model into a new folder, then swap models/current with one rename; "
    "record a decision before moving its batch, and let the next run clean up what a killed "
    "run left and finish its work.",
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
        rows = state["batches"][good.name]["training_rows"]
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
    hint="One cron line: five valid time fields, then cd into $PROJECT_DIR and run python -m "
    "pipeline run. cron's PATH is /usr/bin:/bin; set PATH in the crontab.",
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
        environment, jobs = parse_crontab(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError as error:
        raise LearnerFailure(f"{SCHEDULE} is not a valid crontab: {error}") from None
    assert len(jobs) == 1, f"{SCHEDULE} must have one job line; it has {len(jobs)}"
    job = jobs[0]
    progress(f"running the job of {SCHEDULE} as cron would")
    scheduled = hidden["scheduled"]
    project = first_run.project.copy("scheduled")
    project.add(scheduled)
    variables = {**CRON_ENVIRONMENT, **environment, "PROJECT_DIR": project.path}
    assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in variables.items())
    script = (
        f"printf %s {shlex.quote(job.stdin)} | env -i {assignments} /bin/sh -c "
        f"{shlex.quote(job.command)}"
    )
    done = project.workspace.run(script, cwd="/tmp", timeout=300)
    outcome = project.look(watched=(scheduled,))
    assert outcome.decisions(scheduled), (
        f"the job of {SCHEDULE} (line {job.line}), run as cron would (sh, PATH=/usr/bin:/bin, "
        f"from the home folder, PROJECT_DIR set to the project), did not process the new batch "
        f"(exit {done.exit_code}): {(done.stdout + done.stderr).strip()[-600:]}"
    )
