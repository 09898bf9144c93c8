"""Facts about a DVC project, as JSON on stdout. Runs inside the sandbox runner, never the grader.

The grader of foundation/02-data-versioning mounts this file into the sandbox and runs it in a clone
of the learner's repository: DVC's own parser reads ``dvc.yaml``, ``.dvc`` files and the config, so
what the grader sees is what ``dvc repro`` sees.

    python probe.py pipeline          stages, their deps/params/outs, and .dvc-tracked data
    python probe.py lock              dvc.lock as JSON (null when there is none)
    python probe.py remote            the default remote and the folder it resolves to
    python probe.py hash PATH...      md5 of files (and of every file under folders)
    python probe.py get-param KEY     the value of a dotted key of params.yaml
    python probe.py set-param KEY V   set a dotted key of params.yaml to the YAML value V
    python probe.py holdout-auc MODEL CSV LABEL   ROC AUC of MODEL's predict_proba on CSV's rows
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, TypedDict

import yaml
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo
from dvc.stage import PipelineStage


class Output(TypedDict):
    """An output of a stage: its path, and whether it is a metric and cached."""

    path: str
    metric: bool
    cache: bool


class Stage(TypedDict):
    """A stage of a ``dvc.yaml``, as DVC parses it."""

    name: str
    file: str
    cmd: str | list[str]
    deps: list[str]
    params: list[str]
    outs: list[Output]


class Tracked(TypedDict):
    """A ``.dvc`` file and the paths it tracks."""

    file: str
    outs: list[str]


class Pipeline(TypedDict):
    """What ``pipeline`` returns."""

    stages: list[Stage]
    tracked: list[Tracked]


class Remote(TypedDict):
    """What ``remote`` returns: the default remote, its URL as written, its local folder."""

    name: str | None
    url: str | None
    path: str | None


class ParamChange(TypedDict):
    """What ``set-param`` returns."""

    key: str
    old: Any
    new: Any


def pipeline() -> Pipeline:
    """Every stage of dvc.yaml files and every .dvc file, as DVC parses them."""
    stages: list[Stage] = []
    tracked: list[Tracked] = []
    with Repo(".") as repo:

        def relative(item: Any) -> str:
            return os.path.relpath(item.fs_path, repo.root_dir)

        for stage in repo.index.stages:
            outs = [
                Output(path=relative(out), metric=bool(out.metric), cache=bool(out.use_cache))
                for out in stage.outs
            ]
            if not isinstance(stage, PipelineStage):
                tracked.append({"file": stage.relpath, "outs": [o["path"] for o in outs]})
                continue
            params, deps = [], []
            for dep in stage.deps:
                if isinstance(dep, ParamsDependency):
                    keys = dep.params if isinstance(dep.params, list) else list(dep.params)
                    params += [str(key) for key in keys] or ["*"]
                else:
                    deps.append(relative(dep))
            stages.append(
                Stage(
                    name=stage.name,
                    file=stage.relpath,
                    cmd=stage.cmd,
                    deps=deps,
                    params=params,
                    outs=outs,
                )
            )
    return Pipeline(stages=stages, tracked=tracked)


def lock() -> Any:
    """dvc.lock as JSON (None when there is none)."""
    path = Path("dvc.lock")
    return yaml.safe_load(path.read_text()) if path.exists() else None


def remote() -> Remote:
    """The default remote's name, URL as written, and the local folder it resolves to."""
    with Repo(".") as repo:
        name = repo.config["core"].get("remote")
        if not name:
            return Remote(name=None, url=None, path=None)
        url = str(repo.config["remote"].get(name, {}).get("url", ""))
    local = "://" not in url and url != ""
    path = os.path.normpath(os.path.join(os.path.abspath(".dvc"), url)) if local else None
    return Remote(name=name, url=url, path=path)


def md5_of(path: Path) -> str:
    """md5 of a file, or of the sorted (relative path, md5) pairs of every file under a folder."""
    if path.is_dir():
        pairs = sorted(
            (str(p.relative_to(path)), md5_of(p)) for p in path.rglob("*") if p.is_file()
        )
        return hashlib.md5(json.dumps(pairs).encode()).hexdigest()
    return hashlib.md5(path.read_bytes()).hexdigest()


def hash_paths(*paths: str) -> dict[str, str | None]:
    """md5 of each path (see ``md5_of``); None for a path that does not exist."""
    return {p: md5_of(Path(p)) if Path(p).exists() else None for p in paths}


def get_param(key: str) -> Any:
    """The value of ``key`` (dotted) in params.yaml, or None."""
    value: Any = yaml.safe_load(Path("params.yaml").read_text()) or {}
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def set_param(key: str, value: str) -> ParamChange:
    """Set ``key`` (dotted) in params.yaml to ``value`` (parsed as YAML); return old and new."""
    path = Path("params.yaml")
    params = yaml.safe_load(path.read_text()) or {}
    *parents, last = key.split(".")
    section = params
    for part in parents:
        section = section.setdefault(part, {})
    old = section.get(last)
    section[last] = yaml.safe_load(value)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return ParamChange(key=key, old=old, new=section[last])


def holdout_auc(model_path: str, csv_path: str, label: str) -> float:
    """ROC AUC of the positive class's ``predict_proba`` of the model at ``model_path`` on the
    rows of ``csv_path`` (every column but ``label`` is a feature): the grader's own figure."""
    import joblib
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    frame = pd.read_csv(csv_path)
    model = joblib.load(model_path)
    scores = model.predict_proba(frame.drop(columns=[label]))[:, 1]
    return float(roc_auc_score(frame[label], scores))


if __name__ == "__main__":
    from probe_cli import serve

    serve(
        {
            "pipeline": pipeline,
            "lock": lock,
            "remote": remote,
            "hash": hash_paths,
            "get-param": get_param,
            "set-param": set_param,
            "holdout-auc": holdout_auc,
        }
    )
