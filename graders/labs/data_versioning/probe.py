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
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo
from dvc.stage import PipelineStage


def pipeline() -> dict[str, Any]:
    """Every stage of dvc.yaml files and every .dvc file, as DVC parses them."""
    stages, tracked = [], []
    with Repo(".") as repo:

        def relative(item: Any) -> str:
            return os.path.relpath(item.fs_path, repo.root_dir)

        for stage in repo.index.stages:
            outs = [
                {"path": relative(out), "metric": bool(out.metric), "cache": bool(out.use_cache)}
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
                {
                    "name": stage.name,
                    "file": stage.relpath,
                    "cmd": stage.cmd,
                    "deps": deps,
                    "params": params,
                    "outs": outs,
                }
            )
    return {"stages": stages, "tracked": tracked}


def remote() -> dict[str, Any]:
    """The default remote's name, URL as written, and the local folder it resolves to."""
    with Repo(".") as repo:
        name = repo.config["core"].get("remote")
        if not name:
            return {"name": None, "url": None, "path": None}
        url = str(repo.config["remote"].get(name, {}).get("url", ""))
    local = "://" not in url and url != ""
    path = os.path.normpath(os.path.join(os.path.abspath(".dvc"), url)) if local else None
    return {"name": name, "url": url, "path": path}


def md5_of(path: Path) -> str:
    """md5 of a file, or of the sorted (relative path, md5) pairs of every file under a folder."""
    if path.is_dir():
        pairs = sorted(
            (str(p.relative_to(path)), md5_of(p)) for p in path.rglob("*") if p.is_file()
        )
        return hashlib.md5(json.dumps(pairs).encode()).hexdigest()
    return hashlib.md5(path.read_bytes()).hexdigest()


def get_param(key: str) -> Any:
    """The value of ``key`` (dotted) in params.yaml, or None."""
    value: Any = yaml.safe_load(Path("params.yaml").read_text()) or {}
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def set_param(key: str, value: str) -> dict[str, Any]:
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
    return {"key": key, "old": old, "new": section[last]}


def main(argv: list[str]) -> None:
    """Dispatch one command and print its JSON."""
    command, args = argv[0], argv[1:]
    if command == "pipeline":
        result: Any = pipeline()
    elif command == "lock":
        lock = Path("dvc.lock")
        result = yaml.safe_load(lock.read_text()) if lock.exists() else None
    elif command == "remote":
        result = remote()
    elif command == "hash":
        result = {p: md5_of(Path(p)) if Path(p).exists() else None for p in args}
    elif command == "get-param":
        result = get_param(args[0])
    elif command == "set-param":
        result = set_param(args[0], args[1])
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
