"""The data-versioning lab's own pieces that need no engine: its data and the grader's readers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from graders.catalogue import find_lab
from graders.labs._shared.churn import HEADER, SHIPPED_ROWS, churn_rows, write_csv
from graders.labs.data_versioning.data import HIDDEN_FIRST_ID
from graders.labs.data_versioning.fixtures import (
    RAW,
    git_blob_id,
    overlaps,
    raw_data_tracker,
)

LAB = find_lab("foundation/02-data-versioning")


def test_shipped_csv_regenerates_byte_for_byte(tmp_path: Path) -> None:
    write_csv(tmp_path / "churn.csv")
    assert (tmp_path / "churn.csv").read_bytes() == (LAB.starter / RAW).read_bytes()


def test_starter_and_solution_ship_the_same_raw_data() -> None:
    assert (LAB.solution / RAW).read_bytes() == (LAB.starter / RAW).read_bytes()


def test_hidden_rows_have_the_shipped_columns_and_new_customer_ids() -> None:
    shipped_ids = {line.split(",")[0] for line in churn_rows(2026, SHIPPED_ROWS)}
    hidden = list(churn_rows(7, 100, first_id=HIDDEN_FIRST_ID))
    assert all(line.count(",") == HEADER.count(",") for line in hidden)
    assert not shipped_ids & {line.split(",")[0] for line in hidden}
    assert hidden != list(churn_rows(8, 100, first_id=HIDDEN_FIRST_ID))


def test_git_blob_id_is_what_git_hash_object_says(tmp_path: Path) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(b"a,b\n1,2\n")
    said = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True)
    assert git_blob_id(path.read_bytes()) == said.stdout.strip()


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("data/prepared", "data/prepared/train.csv", True),
        ("data/prepared/train.csv", "data/prepared", True),
        ("data/prepared", "data/prepared", True),
        ("data/prepared", "data/prepared-old/train.csv", False),
        ("models/model.joblib", "data/prepared", False),
    ],
)
def test_overlaps_means_same_path_or_inside(a: str, b: str, expected: bool) -> None:
    assert overlaps(a, b) is expected


@pytest.mark.parametrize(
    ("tracked", "expected"),
    [
        ([{"file": "data/raw/churn.csv.dvc", "outs": [RAW]}], ("data/raw/churn.csv.dvc", RAW)),
        ([{"file": "data/raw.dvc", "outs": ["data/raw"]}], ("data/raw.dvc", "data/raw")),
        ([{"file": "data/raw/other.csv.dvc", "outs": ["data/raw/other.csv"]}], None),
        ([{"file": "data/raw/churn.csv.old.dvc", "outs": ["data/raw/churn.csv.old"]}], None),
    ],
)
def test_raw_data_tracker_finds_the_file_or_folder_that_covers_the_raw_data(
    tracked: list[dict[str, object]], expected: tuple[str, str] | None
) -> None:
    assert raw_data_tracker({"stages": [], "tracked": tracked}) == expected


def test_the_grader_copy_leaves_out_virtualenvs_and_the_dvc_cache(tmp_path: Path) -> None:
    from graders.containers.workspace import stage_readable
    from graders.labs.data_versioning.fixtures import not_needed_for_a_clone

    for part in (".venv/lib/big.so", ".dvc/cache/files/md5/ab/cd", ".dvc/config", "dvc-storage/x"):
        (tmp_path / "project" / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "project" / part).write_text("x")
    staged = stage_readable(tmp_path / "project", tmp_path / "staged", not_needed_for_a_clone)
    kept = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    assert kept == [".dvc/config", "dvc-storage/x"]


def test_params_changes_name_each_changed_key_with_both_values() -> None:
    from graders.labs.data_versioning.stages import params_changes

    locked = {"params": {"params.yaml": {"train.n_estimators": 60, "train.seed": 42}}}
    now = {"params": {"params.yaml": {"train.n_estimators": 80, "train.seed": 42}}}
    assert params_changes(locked, now) == [
        "params.yaml has train.n_estimators: 80, the committed dvc.lock 60"
    ]
    assert params_changes(now, now) == []
