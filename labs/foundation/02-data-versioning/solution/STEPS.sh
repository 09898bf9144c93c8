#!/usr/bin/env bash
# The reference's commands, in the order a learner types them. The tests run this script in the
# sandbox runner on a copy of solution/ (without this file) to make the submission: a git
# repository whose DVC remote, dvc-storage/, holds the data.
set -euo pipefail
git init -q -b main
git config user.name "Reference Learner"
git config user.email reference@mlops-labs.invalid
dvc init -q
dvc remote add -d storage dvc-storage
dvc add data/raw/churn.csv
dvc repro
dvc push
git add -A
git commit -q -m "Version the data and the pipeline with DVC"
