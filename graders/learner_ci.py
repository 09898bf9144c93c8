"""CI for a learner's repository: the files ``mlops-labs start`` writes beside the starter, and the
GitHub Classroom variant (docs/ci.md).

- ``.github/workflows/grade.yml`` grades every push with the mlops-labs GitHub Action
  (``action.yml`` at the repository root) at the tag of the installed version;
- ``.gitlab-ci.yml`` includes the GitLab template (``infra/ci/gitlab/mlops-labs.gitlab-ci.yml``)
  at the same tag and extends its job ``.mlops-labs-grade``;
- ``.github/workflows/classroom.yml`` (not written by ``start``: a repository with it and
  ``grade.yml`` would be graded twice a push) grades with ``--format classroom,github`` and hands
  the step output ``result`` to GitHub Classroom's reporter as ``MLOPS-LABS_RESULTS``.

The repository that hosts the action is :data:`ACTION_REPOSITORY`, or ``$MLOPS_LABS_ACTION_REPO``
when set (an instructor's fork).
"""

from __future__ import annotations

import os
from pathlib import Path

import graders
from graders.catalogue import Lab

#: The GitHub repository (owner/name) that hosts action.yml and the GitLab template.
ACTION_REPOSITORY = "OWNER/mlops-labs"
ACTION_REPOSITORY_ENV = "MLOPS_LABS_ACTION_REPO"
#: The Classroom runner id: the reporter reads ``<ID upper-cased>_RESULTS``.
CLASSROOM_RUNNER = "mlops-labs"
CLASSROOM_REPORTER = "classroom-resources/autograding-grading-reporter@v1"
GITLAB_TEMPLATE = "infra/ci/gitlab/mlops-labs.gitlab-ci.yml"

GRADE_WORKFLOW = """\
# Grades this lab on every push with mlops-labs __VERSION__: the job's summary shows each check,
# the artifact mlops-labs-report holds report.json and junit.xml. The job fails unless the
# grading gives full marks. To grade with another version, change the tag after the @.
name: mlops-labs

on:
  push:
  pull_request:
  workflow_dispatch:

permissions:
  contents: read

jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: 60
    steps:
      - uses: actions/checkout@v5

      - name: Grade __LAB__
        uses: __REPO__@__REF__
        with:
          lab: __LAB__
          # only: "3"  # grade just criterion 3 (and the checks it requires)
"""

CLASSROOM_WORKFLOW = """\
# GitHub Classroom autograding with mlops-labs __VERSION__: Classroom records the points of the
# step "mlops-labs" (runner id mlops-labs). Use it instead of grade.yml, not beside it.
name: Autograding Tests

on:
  push:
  repository_dispatch:
  workflow_dispatch:

permissions:
  checks: write
  actions: read
  contents: read

jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    timeout-minutes: 60
    if: github.actor != 'github-classroom[bot]'
    steps:
      - uses: actions/checkout@v5

      - name: mlops-labs
        id: mlops-labs
        uses: __REPO__@__REF__
        # Not full marks exits 1: the reporter below still runs and says so.
        continue-on-error: true
        with:
          lab: __LAB__
          formats: classroom,github
          # only: "3"  # grade just criterion 3 (and the checks it requires)

      - name: Autograding Reporter
        uses: __REPORTER__
        env:
          MLOPS-LABS_RESULTS: "${{ steps.mlops-labs.outputs.result }}"
        with:
          runners: __RUNNER__
"""

GITLAB_CI = """\
# Grades this lab on every push with mlops-labs __VERSION__ (a merge request shows each check).
# To grade with another version, change the tag in the address and MLOPS_LABS_REF together.
include:
  - remote: https://raw.githubusercontent.com/__REPO__/__REF__/__TEMPLATE__

grade:
  extends: .mlops-labs-grade
  variables:
    MLOPS_LABS_LAB: __LAB__
    MLOPS_LABS_REF: __REF__
    MLOPS_LABS_REPO: https://github.com/__REPO__.git
    # MLOPS_LABS_ONLY: "3"  # grade just criterion 3 (and the checks it requires)
"""


def action_repository() -> str:
    """The GitHub repository (owner/name) of the action: ``$MLOPS_LABS_ACTION_REPO`` or
    :data:`ACTION_REPOSITORY`."""
    return os.environ.get(ACTION_REPOSITORY_ENV, "").strip() or ACTION_REPOSITORY


def action_ref() -> str:
    """The tag the templates pin: ``v`` and the installed version of mlops-labs."""
    return f"v{graders.__version__}"


def render(template: str, lab: Lab) -> str:
    """``template`` with the lab, the action's repository and ref, and the version filled in."""
    values = {
        "__LAB__": lab.id,
        "__REPO__": action_repository(),
        "__REF__": action_ref(),
        "__VERSION__": graders.__version__,
        "__TEMPLATE__": GITLAB_TEMPLATE,
        "__REPORTER__": CLASSROOM_REPORTER,
        "__RUNNER__": CLASSROOM_RUNNER,
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def learner_files(lab: Lab) -> dict[str, str]:
    """The CI files ``start`` writes into a learner's new folder: relative path -> text."""
    return {
        ".github/workflows/grade.yml": render(GRADE_WORKFLOW, lab),
        ".gitlab-ci.yml": render(GITLAB_CI, lab),
    }


def classroom_workflow(lab: Lab) -> str:
    """The GitHub Classroom workflow for ``lab`` (``.github/workflows/classroom.yml``)."""
    return render(CLASSROOM_WORKFLOW, lab)


def write_learner_files(lab: Lab, target: Path) -> list[Path]:
    """Write :func:`learner_files` under ``target``, keeping any file the starter already has;
    the files written."""
    written = []
    for relative, text in learner_files(lab).items():
        path = target / relative
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
