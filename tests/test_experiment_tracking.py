"""The experiment-tracking lab's pieces that need no engine: its data and the grader's readers."""

from __future__ import annotations

import csv
from pathlib import Path

from graders.catalogue import find_lab
from graders.labs._shared.churn import write_split
from graders.labs.experiment_tracking.checks import FEATURES
from graders.labs.experiment_tracking.data import (
    VALID_CSV,
    normalised,
    not_validation_rows,
    validation_rows,
    write_grader_files,
)
from graders.labs.experiment_tracking.fixtures import Sweep
from graders.labs.experiment_tracking.runs import each_run

LAB = find_lab("foundation/03-experiment-tracking")


def test_shipped_train_and_valid_csvs_regenerate_byte_for_byte(tmp_path: Path) -> None:
    write_split(tmp_path / "train.csv", tmp_path / "valid.csv", 40_000)
    for name in ("train.csv", "valid.csv"):
        assert (tmp_path / name).read_bytes() == (LAB.starter / "data" / name).read_bytes()
        assert (LAB.solution / "data" / name).read_bytes() == (tmp_path / name).read_bytes()


def test_the_provided_train_py_is_the_same_in_starter_and_solution() -> None:
    assert (LAB.starter / "train.py").read_text() == (LAB.solution / "train.py").read_text()


def test_the_graders_feature_set_is_the_csv_header_without_id_and_label() -> None:
    header = (LAB.starter / "data" / "valid.csv").read_text().splitlines()[0].split(",")
    assert FEATURES == set(header) - {"customer_id", "churned"}


def test_each_run_lists_problems_of_finished_runs_only() -> None:
    runs = [
        {"run_id": "aaaaaaaa11", "status": "FINISHED", "tags": {}},
        {"run_id": "bbbbbbbb22", "status": "FINISHED", "tags": {"x": "1"}},
        {"run_id": "cccccccc33", "status": "FAILED", "tags": {}},
    ]
    sweep = Sweep(None, None, [], None, True, runs)  # type: ignore[arg-type]
    problems = each_run(sweep, lambda run: None if run["tags"] else "no tags")
    assert problems == ["run aaaaaaaa: no tags"]


def test_grid_point_of_a_run_with_non_numeric_params_is_none() -> None:
    from graders.labs.experiment_tracking.runs import grid_point

    assert grid_point({"params": {"n_estimators": "40", "max_depth": "8.0"}}) == (40, 8)
    assert grid_point({"params": {"n_estimators": "many", "max_depth": "8"}}) is None
    assert grid_point({"params": {}}) is None


def test_the_graders_validation_file_leaves_out_the_last_row(tmp_path: Path) -> None:
    lab = find_lab("foundation/03-experiment-tracking")
    write_grader_files(tmp_path, lab, "run")
    shipped = (lab.starter / "data" / VALID_CSV).read_bytes()
    written = (tmp_path / VALID_CSV).read_bytes()
    assert shipped.startswith(written) and written.count(b"\n") == shipped.count(b"\n") - 1
    assert written.count(b"\n") - 1 == 9_999  # no accuracy k/9999 has four decimals or fewer


def test_an_input_example_is_told_from_training_rows_and_blank_charges_match() -> None:
    lab = find_lab("foundation/03-experiment-tracking")
    validation = validation_rows(lab)
    columns = sorted(FEATURES)
    with open(lab.starter / "data" / VALID_CSV, newline="") as file:
        first = next(csv.DictReader(file))
    row = [first[c] for c in columns]
    assert not_validation_rows(columns, [row], validation) is None
    numbers = [float(v) if v.replace(".", "").isdigit() else v for v in row]
    assert not_validation_rows(columns, [numbers], validation) is None  # JSON numbers alike
    with open(lab.starter / "data" / "train.csv", newline="") as file:
        training = next(csv.DictReader(file))
    said = not_validation_rows(columns, [row, [training[c] for c in columns]], validation)
    assert said and said.startswith("row 2 of the input example is not a row of data/valid.csv")
    assert normalised("") == normalised(None) == normalised(float("nan")) == "nan"
