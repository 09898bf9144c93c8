"""The CI we ship, validated: the GitHub Action, our workflows, the learner templates ``start``
writes, the GitLab template and the dev container.

actionlint cannot be installed here, so workflows, the action and the GitLab template are
validated against the JSON schemas that check-jsonschema vendors (SchemaStore's), read as
check-jsonschema reads them: YAML 1.2, where ``on:`` is a string key, not True.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import graders
from graders import kind, learner_ci
from graders.catalogue import find_lab
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
GITLAB = ROOT / "infra" / "ci" / "gitlab"
REAL_LABS = ("foundation/01-containerize-model", "professional/03-ha-inference-on-kind")
TINY = "foundation/01-tiny-lab"


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's booleans only (``true``/``false``): ``on`` stays a
    string, as in the YAML 1.2 loader check-jsonschema uses (and GitHub's own parser)."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """Parse ``text`` as YAML 1.2."""
    return yaml.load(text, Loader=Yaml12Loader)  # a SafeLoader subclass: safe


@cache
def schema_validator(name: str) -> jsonschema.protocols.Validator:
    """A validator for check-jsonschema's vendored schema ``name`` (e.g. github-actions)."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / f"{name}.json").read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def schema_errors(name: str, document: Any) -> list[str]:
    """Every error of ``document`` against the schema ``name``, one line each. GitLab's schema
    lets a hidden key (``.name``) be anything, so a hidden job is validated as a job."""
    if name == "gitlab-ci":
        document = {key.lstrip("."): value for key, value in document.items()}
    errors = schema_validator(name).iter_errors(document)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}" for error in errors]


def rendered_learner_templates() -> list[tuple[str, str, str]]:
    """(schema, name, text) of every learner template, rendered for each real lab."""
    templates = []
    for lab_id in REAL_LABS:
        lab = find_lab(lab_id)
        files = learner_ci.learner_files(lab)
        templates += [
            ("github-workflows", f"{lab_id}:grade.yml", files[".github/workflows/grade.yml"]),
            ("github-workflows", f"{lab_id}:classroom.yml", learner_ci.classroom_workflow(lab)),
            ("gitlab-ci", f"{lab_id}:.gitlab-ci.yml", files[".gitlab-ci.yml"]),
        ]
    return templates


SHIPPED = [
    ("github-actions", "action.yml", (ROOT / "action.yml").read_text()),
    *[
        ("github-workflows", path.name, path.read_text())
        for path in sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    ],
    ("gitlab-ci", "mlops-labs.gitlab-ci.yml", (GITLAB / "mlops-labs.gitlab-ci.yml").read_text()),
    ("gitlab-ci", "example.gitlab-ci.yml", (GITLAB / "example.gitlab-ci.yml").read_text()),
    *rendered_learner_templates(),
]


@pytest.mark.parametrize(("schema", "name", "text"), SHIPPED, ids=[s[1] for s in SHIPPED])
def test_shipped_ci_file_is_valid_against_its_schema(schema: str, name: str, text: str) -> None:
    assert schema_errors(schema, load_yaml(text)) == []


@pytest.mark.parametrize(
    ("schema", "broken"),
    [
        ("github-actions", {"name": "x", "description": "y", "runs": {"using": "composite"}}),
        ("github-workflows", {"on": "push", "jobs": {"grade": {"steps": [{"run": "true"}]}}}),
        ("gitlab-ci", {".mlops-labs-grade": {"artifacts": {"when": "sometimes"}}}),
    ],
    ids=["composite-without-steps", "job-without-runs-on", "artifacts-when-unknown"],
)
def test_schemas_reject_a_broken_file(schema: str, broken: dict[str, Any]) -> None:
    assert schema_errors(schema, broken), "the validation would pass anything"


def test_yaml_12_loader_keeps_on_as_a_key() -> None:
    assert list(load_yaml("on:\n  push:\n")) == ["on"]
    assert load_yaml("a: true\nb: yes\n") == {"a": True, "b": "yes"}


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml((ROOT / "action.yml").read_text())
    return loaded


def action_step(uses_prefix: str) -> dict[str, Any]:
    return next(s for s in action()["runs"]["steps"] if s.get("uses", "").startswith(uses_prefix))


def test_action_creates_kind_as_the_layer3_workflow_does() -> None:
    workflow = load_yaml((ROOT / ".github" / "workflows" / "kind-layer3.yml").read_text())
    ours = next(
        s for s in workflow["jobs"]["layer3"]["steps"] if "kind-action" in s.get("uses", "")
    )
    step = action_step("helm/kind-action@")
    assert step["uses"] == ours["uses"]
    assert step["with"]["version"] == ours["with"]["version"] == kind.KIND_VERSION
    assert step["with"]["cluster_name"] == ours["with"]["cluster_name"] == kind.CLUSTER
    assert step["with"]["config"] == "${{ github.action_path }}/infra/kind/cluster.yaml"
    assert step["if"] == "steps.requires.outputs.kind == 'true'"


def test_action_passes_the_classroom_result_and_exit_code_through() -> None:
    steps = {step.get("id"): step for step in action()["runs"]["steps"]}
    assert 'grade.sh" grade' in steps["grade"]["run"]
    outputs = action()["outputs"]
    assert outputs["result"]["value"] == "${{ steps.grade.outputs.result }}"
    assert outputs["exit-code"]["value"] == "${{ steps.grade.outputs.exit-code }}"


def test_action_uploads_the_report_folder_even_when_grading_fails() -> None:
    upload = action_step("actions/upload-artifact@")
    assert upload["uses"] == "actions/upload-artifact@v4" and upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ steps.paths.outputs.report-dir }}"
    grade_env = next(s for s in action()["runs"]["steps"] if s.get("id") == "grade")["env"]
    assert grade_env["MLOPS_LABS_OUT"] == upload["with"]["path"]


def test_action_inputs_reach_the_grading_step() -> None:
    grade_env = next(s for s in action()["runs"]["steps"] if s.get("id") == "grade")["env"]
    for name in ("lab", "path", "formats", "only", "time-limit"):
        assert name in action()["inputs"]
        assert f"${{{{ inputs.{name} }}}}" in grade_env.values(), name


def test_learner_templates_name_the_lab_and_the_installed_version() -> None:
    version = importlib.metadata.version("mlops-labs")
    assert version == graders.__version__
    lab = find_lab("foundation/01-containerize-model")
    files = learner_ci.learner_files(lab)
    grade = load_yaml(files[".github/workflows/grade.yml"])
    step = next(s for s in grade["jobs"]["grade"]["steps"] if "with" in s)
    assert step["uses"] == f"{learner_ci.ACTION_REPOSITORY}@v{version}"
    assert step["with"] == {"lab": lab.id}
    gitlab = load_yaml(files[".gitlab-ci.yml"])
    assert gitlab["grade"]["variables"]["MLOPS_LABS_LAB"] == lab.id
    assert gitlab["grade"]["variables"]["MLOPS_LABS_REF"] == f"v{version}"
    assert f"/v{version}/{learner_ci.GITLAB_TEMPLATE}" in gitlab["include"][0]["remote"]
    assert (ROOT / learner_ci.GITLAB_TEMPLATE).is_file()
    shipped = load_yaml((ROOT / learner_ci.GITLAB_TEMPLATE).read_text())
    assert shipped[".mlops-labs-grade"]["variables"]["MLOPS_LABS_REF"] == f"v{version}"


def test_learner_templates_show_only_as_a_comment() -> None:
    lab = find_lab("foundation/01-containerize-model")
    for text in (*learner_ci.learner_files(lab).values(), learner_ci.classroom_workflow(lab)):
        assert re.search(r'^\s+# (MLOPS_LABS_ONLY|only): "3"', text, re.MULTILINE), text
    grade = load_yaml(learner_ci.learner_files(lab)[".github/workflows/grade.yml"])
    assert "only" not in grade["jobs"]["grade"]["steps"][1]["with"]


def test_action_repository_comes_from_the_environment_when_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(learner_ci.ACTION_REPOSITORY_ENV, "my-school/mlops-labs")
    text = learner_ci.learner_files(find_lab("foundation/01-containerize-model"))[".gitlab-ci.yml"]
    assert "raw.githubusercontent.com/my-school/mlops-labs/v" in text
    assert "OWNER" not in text


def test_classroom_workflow_wires_the_runner_id_to_the_reporter_env_variable() -> None:
    workflow = load_yaml(
        learner_ci.classroom_workflow(find_lab("foundation/01-containerize-model"))
    )
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    grading, reporter = steps[1], steps[2]
    assert grading["id"] == "mlops-labs" and grading["continue-on-error"] is True
    assert grading["with"]["formats"] == "classroom,github"
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["with"] == {"runners": "mlops-labs"}
    assert reporter["env"] == {"MLOPS-LABS_RESULTS": "${{ steps.mlops-labs.outputs.result }}"}


def test_start_writes_the_ci_templates_into_its_first_commit(
    tiny_labs: Path, tmp_path: Path
) -> None:
    target = tmp_path / "mine"
    done = run_cli("start", TINY, str(target))
    assert done.returncode == 0, done.stderr
    committed = subprocess.run(
        ["git", "-C", str(target), "ls-tree", "-r", "--name-only", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for relative, text in learner_ci.learner_files(find_lab(TINY)).items():
        assert relative in committed
        assert (target / relative).read_text() == text
    status = subprocess.run(
        ["git", "-C", str(target), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout == ""


def test_learner_files_keep_a_workflow_the_starter_has(tmp_path: Path) -> None:
    own = tmp_path / ".github" / "workflows" / "grade.yml"
    own.parent.mkdir(parents=True)
    own.write_text("mine\n")
    written = learner_ci.write_learner_files(find_lab(REAL_LABS[0]), tmp_path)
    assert own.read_text() == "mine\n" and written == [tmp_path / ".gitlab-ci.yml"]


def test_gitlab_template_runs_dind_with_tls_and_publishes_junit() -> None:
    job = load_yaml((GITLAB / "mlops-labs.gitlab-ci.yml").read_text())[".mlops-labs-grade"]
    assert [service["name"].split(":")[0] for service in job["services"]] == ["docker"]
    assert job["services"][0]["name"].endswith("-dind")
    assert job["variables"]["DOCKER_HOST"] == "tcp://docker:2376"
    assert job["variables"]["DOCKER_TLS_CERTDIR"] == "/certs"
    assert job["variables"]["DOCKER_CERT_PATH"] == "$DOCKER_TLS_CERTDIR/client"
    out = job["variables"]["MLOPS_LABS_OUT"]
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["paths"] == [f"{out}/"]
    assert job["artifacts"]["reports"]["junit"] == f"{out}/junit.xml"
    assert "infra/ci/gitlab/grade-in-dind.sh" in job["script"][-1]
