"""Grader of foundation/02-data-versioning: its acceptance criteria, in order, one check each.

Every check works on a fresh clone of the learner's repository in the sandbox (see
``data_versioning_fixtures``): what is graded is what a teammate gets from ``git clone``.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from graders.checks import check
from graders.containers.workspace import GRADER
from graders.errors import LearnerFailure
from graders.labs.data_versioning.data import HIDDEN_CSV
from graders.labs.data_versioning.fixtures import (
    RAW,
    Clone,
    Reproduction,
    git_blob_id,
    output_tail,
    overlaps,
    raw_data_tracker,
    stage_outputs,
)
from graders.labs.data_versioning.stages import METRICS_FILE, STAGES, params_changes, repro_after

if TYPE_CHECKING:  # the probe imports DVC, which only the sandbox has
    from graders.labs.data_versioning.probe import Pipeline

PULLS = ["test_remote_holds_the_data"]
METRIC = "roc_auc"
THRESHOLD = 0.78
METRIC_TOLERANCE = 0.0005  # metrics.json may round the figure to 3 decimals
MODEL_FILE = "models/model.joblib"  # the README's table: train writes it, prepare the holdout
HOLDOUT_FILE = "data/prepared/test.csv"
LABEL = "churned"
CHANGED_PARAM = "train.n_estimators"
BIG_BLOB_BYTES = 1_000_000


@check(
    1,
    points=12,
    hint="git init, dvc init, dvc add data/raw/churn.csv, then commit the .dvc file and the "
    ".gitignore next to it. If the CSV ever went into a commit, start the history again.",
)
def test_git_repository_with_dvc_and_raw_data_in_dvc(
    committed_clone: Clone, pipeline: Pipeline, shipped_data: bytes, record_property: Any
) -> None:
    """A git repository with DVC initialised; the raw data is tracked by DVC, not by git"""
    tracker = raw_data_tracker(pipeline)
    producers = [
        s["name"] for s in pipeline["stages"] if any(overlaps(o["path"], RAW) for o in s["outs"])
    ]
    assert tracker, (
        f"{RAW} is an output of stage {producers[0]!r}; raw data is added with dvc add"
        if producers
        else f"{RAW} is not tracked by DVC: no .dvc file names it (dvc add {RAW})"
    )
    tracked_by_git = committed_clone.measure(f"git ls-files --error-unmatch {RAW}").ok
    assert not tracked_by_git, f"git tracks {RAW} too: git rm --cached {RAW}, then commit"
    blob = git_blob_id(shipped_data)
    if committed_clone.measure(f"git cat-file -e {blob}").ok:
        added = committed_clone.measure(f"git log --all --format='%h %s' --diff-filter=A -- {RAW}")
        raise LearnerFailure(
            f"the raw data is in your git history ({added.stdout.strip() or 'under another name'})"
            ": every clone downloads it forever; rewrite the history or start a fresh repository"
        )
    big = committed_clone.measure(
        "git rev-list --objects --all "
        "| git cat-file --batch-check='%(objecttype) %(objectsize) %(rest)' "
        f'| awk \'$1 == "blob" && $2 > {BIG_BLOB_BYTES} {{print $3 " (" $2 " bytes)"}}\''
    )
    assert not big.stdout.strip(), (
        "git history holds large files that belong in DVC:\n" + big.stdout.strip()
    )
    record_property("message", f"{RAW} is tracked by {tracker[0]}")


@check(
    2,
    points=14,
    hint="dvc remote add -d storage dvc-storage, add /dvc-storage/ to .gitignore, dvc push, and "
    "commit .dvc/config. The grader copies dvc-storage/ from your folder next to its clone.",
)
def test_remote_holds_the_data(pulled_clone: Clone, record_property: Any) -> None:
    """A remote holds the data: dvc pull in a fresh clone restores it"""
    record_property("message", f"dvc pull restored {RAW} with the shipped md5")


@check(
    3,
    points=14,
    hint="Each stage lists its script and the previous stage's output under deps:, the keys it "
    "reads under params:, and what it writes under outs: (metrics.json under metrics:).",
)
def test_pipeline_stages_form_a_chain(pipeline: Pipeline) -> None:
    """dvc.yaml chains the stages prepare, train and evaluate"""
    stages = {stage["name"]: stage for stage in pipeline["stages"]}
    missing = [s.name for s in STAGES if s.name not in stages]
    assert not missing, f"dvc.yaml has no stage named {', '.join(missing)}; found {list(stages)}"
    problems = []
    for contract, upstream in zip(STAGES, (None, *STAGES[:-1]), strict=True):
        stage = stages[contract.name]
        if contract.script not in stage["deps"]:
            problems.append(f"{contract.name} does not depend on its script {contract.script}")
        inputs = [RAW] if upstream is None else [o["path"] for o in stages[upstream.name]["outs"]]
        if not any(overlaps(dep, path) for dep in stage["deps"] for path in inputs):
            source = RAW if upstream is None else f"an output of {upstream.name} ({inputs})"
            problems.append(f"{contract.name} does not depend on {source}")
        for key in contract.params:
            if not any(p in ("*", key) or key.startswith(p + ".") for p in stage["params"]):
                problems.append(f"{contract.name} reads {key} but does not declare it in params:")
    assert not problems, "the pipeline's chain is broken:\n" + "\n".join(problems)


@check(
    4,
    points=14,
    requires=PULLS,
    hint="After any change to code, data or params.yaml: dvc repro, then commit dvc.lock with "
    "the change (git status should be clean).",
)
def test_fresh_clone_reproduces_with_committed_lock(
    reproduction: Reproduction, record_property: Any
) -> None:
    """A fresh clone reproduces, and the committed dvc.lock is up to date"""
    assert reproduction.committed_lock, (
        "no dvc.lock is committed: run dvc repro, then commit dvc.lock with your pipeline"
    )
    committed = reproduction.committed_lock.get("stages", {})
    after = (reproduction.lock_after or {}).get("stages", {})
    produced = {o for stage in after.values() for o in (x["path"] for x in stage.get("outs", []))}
    stale = []
    for name, entry in after.items():
        old = committed.get(name)
        if old is None:
            stale.append(f"stage {name} is missing from the committed dvc.lock")
            continue
        if old.get("cmd") != entry.get("cmd"):
            stale.append(f"stage {name}: cmd changed since dvc.lock was written")
        stale += [f"stage {name}: {change}" for change in params_changes(old, entry)]
        old_deps = {d["path"]: d.get("md5") for d in old.get("deps", [])}
        for dep in entry.get("deps", []):
            if dep["path"] not in produced and old_deps.get(dep["path"]) != dep.get("md5"):
                stale.append(f"stage {name}: {dep['path']} changed since dvc.lock was written")
    assert not stale, "the committed dvc.lock is stale:\n" + "\n".join(stale)
    status = reproduction.clone.measure("dvc status --json")
    assert status.ok and json.loads(status.stdout or "{}") == {}, (
        f"dvc status is not clean after dvc repro:\n{output_tail(status)}"
    )
    ran = ", ".join(reproduction.repro.ran) or "nothing"
    record_property("message", f"dvc repro ran {ran}; dvc status is clean")


@check(
    5,
    points=12,
    requires=PULLS,
    hint="List every key train.py reads under the train stage's params: in dvc.yaml, so that "
    "DVC re-runs training when one changes.",
)
def test_param_change_reruns_train_and_evaluate_only(
    reproduction: Reproduction, record_property: Any
) -> None:
    """Changing a training param re-runs train and evaluate only, and changes the metric"""
    clone = reproduction.clone.copy("param-change")

    def raise_the_param() -> str:
        current = clone.probe("get-param", CHANGED_PARAM)
        new = current + 10 if isinstance(current, int) else 50
        clone.probe("set-param", CHANGED_PARAM, str(new))
        return f"after {CHANGED_PARAM}: {current} → {new}"

    said, ran, metrics_changed = repro_after(clone, raise_the_param)
    assert "train" in ran and "evaluate" in ran, said + "; train and evaluate must re-run"
    assert "prepare" not in ran, said + "; prepare does not read it and must stay cached"
    assert metrics_changed, said + f", but {METRICS_FILE} did not change"
    record_property("message", said)


@check(
    6,
    points=10,
    requires=PULLS,
    hint="Declare metrics.json under the evaluate stage's metrics: (with cache: false) so that "
    "dvc metrics show reads it.",
)
def test_metrics_declared_and_threshold_met(
    reproduction: Reproduction, record_property: Any
) -> None:
    """The metrics file is declared as metrics and roc_auc is at least 0.78"""
    shown = reproduction.clone.measure("dvc metrics show --json")
    assert shown.ok, f"dvc metrics show failed:\n{output_tail(shown)}"
    revisions = json.loads(shown.stdout or "{}")  # the workspace is "" or "workspace"
    files = (revisions.get("workspace") or revisions.get("") or {}).get("data", {})
    assert METRICS_FILE in files, (
        f"dvc metrics show does not list {METRICS_FILE} (it shows {list(files) or 'nothing'})"
    )
    value = files[METRICS_FILE].get("data", {}).get(METRIC)
    assert type(value) in (int, float), f"{METRICS_FILE} has no number {METRIC!r}"
    recomputed = float(
        reproduction.clone.probe(
            "holdout-auc",
            MODEL_FILE,
            HOLDOUT_FILE,
            LABEL,
            failure=f"the grader could not score {MODEL_FILE} on {HOLDOUT_FILE}",
        )
    )
    record_property(METRIC, recomputed)
    assert abs(value - recomputed) <= METRIC_TOLERANCE, (
        f"{METRICS_FILE} says {METRIC} {value:.4f}, but {MODEL_FILE} scores {recomputed:.4f} on "
        f"the holdout {HOLDOUT_FILE} (the grader's own figure): score the holdout rows, with "
        "predict_proba's positive-class column"
    )
    assert value >= THRESHOLD, f"{METRIC} on the holdout is {value:.4f}, below {THRESHOLD}"
    record_property("message", f"{METRIC} {value:.4f} on the holdout (threshold {THRESHOLD})")


@check(
    7,
    points=12,
    requires=PULLS,
    hint="Seed every source of randomness from params.yaml (the split and the model's "
    "random_state), and keep n_jobs fixed.",
)
def test_two_reproductions_are_byte_identical(
    reproduction: Reproduction, pipeline: Pipeline, record_property: Any
) -> None:
    """Two clean reproductions give byte-identical outputs"""
    outputs = stage_outputs(pipeline)
    first = reproduction.clone.hashes(outputs)
    again = reproduction.clone.copy("again")
    repro = again.repro("--force")
    assert repro.result.ok, f"dvc repro --force failed:\n{output_tail(repro.result)}"
    second = again.hashes(outputs)
    differ = [path for path in outputs if first[path] != second[path]]
    assert not differ, f"a second reproduction wrote different bytes to: {', '.join(differ)}"
    record_property("message", f"{len(outputs)} outputs identical across two reproductions")


@check(
    8,
    points=12,
    requires=PULLS,
    hint="Every stage must depend on what the stage before it writes, from the raw data down "
    "to the metrics.",
)
def test_new_raw_data_reruns_every_stage(
    reproduction: Reproduction, pipeline: Pipeline, record_property: Any
) -> None:
    """New raw data re-runs every stage and updates the metrics"""
    clone = reproduction.clone.copy("new-data")
    tracker = raw_data_tracker(pipeline)
    assert tracker, f"{RAW} is not tracked by DVC"

    def add_hidden_rows() -> str:
        target = shlex.quote(tracker[1])
        clone.must(  # DVC's documented way to change tracked data, whatever the cache's link type
            f"dvc unprotect {target} && cat {GRADER}/{HIDDEN_CSV} >> {RAW} && dvc add {target}",
            "dvc unprotect, or dvc add of the updated raw data, failed",
        )
        return f"with new rows in {RAW}"

    said, ran, metrics_changed = repro_after(clone, add_hidden_rows)
    missed = [stage.name for stage in STAGES if stage.name not in ran]
    assert not missed, said + f"; {', '.join(missed)} did not re-run"
    assert metrics_changed, said + f", but {METRICS_FILE} did not change"
    record_property("message", said)
