"""Probe of the retraining-pipeline lab; it runs inside the sandbox, never on the host.

    python probe.py run PROJECT --holdout=CSV [--kill-after=S | --kill-on-model-write]
                                [--timeout=S] [--batch=CSV ...]
    python probe.py state PROJECT --holdout=CSV [--batch=CSV ...]

``run`` starts ``python -m pipeline run`` in PROJECT and watches it: it holds the files of the model
being served open (as a serving process would) and, every millisecond, checks that
``models/current`` is still there and that those files were not written in place. It may SIGKILL
the run's whole process group after some seconds or at its first change under ``models/``. Then
it reports, like ``state``, what the project holds. The last line printed is JSON (the
TypedDicts below, which the grader's fixtures read).
"""

from __future__ import annotations

import csv
import ctypes
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

POLL_SECONDS = 0.001
IN_MODIFY, IN_MOVED_FROM, IN_DELETE, IN_NONBLOCK = 0x2, 0x40, 0x200, 0o4000  # <sys/inotify.h>
LINK_GAP = "models/current was deleted or moved away for a moment: swap it with one rename"
OUTPUT_TAIL = 4000
ID, LABEL = "customer_id", "churned"
LEFTOVER_MARKS = ("tmp", "partial", ".part", "~")
KEEP_FILES = {".gitkeep", ".gitignore", ".keep"}


class WatchedRun(TypedDict):
    """One watched run of the pipeline."""

    exit_code: int
    seconds: float
    killed: bool  # by the probe, as asked (--kill-after, --kill-on-model-write)
    timed_out: bool
    first_model_write: float | None  # seconds into the run of the first change under models/
    violations: list[str]  # moments a server reading models/current would have seen a torn model
    output: str  # the tail of what it printed


class BatchFacts(TypedDict):
    """Where a watched batch's bytes are, and how many of its rows the training set holds."""

    locations: list[str]
    training_rows: int


class History(TypedDict):
    """history.jsonl: its JSON-object lines, and the lines that are not."""

    exists: bool
    entries: list[dict[str, Any]]
    errors: list[str]


class ServedModel(TypedDict):
    """What ``models/current`` serves."""

    exists: bool
    link: str | None  # the link's target, when it is a link
    holdout_auc: float | None
    inside: bool  # it resolves inside the project
    sha256: str | None  # of its model.joblib
    error: str  # why it cannot predict ("" when it can)


class ProjectState(TypedDict):
    """What the project holds."""

    incoming: list[str]
    batches: dict[str, BatchFacts]  # by the watched batch's file name
    reasons: dict[str, str]  # quarantine reason files, by batch name
    history: History
    current: ServedModel
    invalid: list[str]  # files half-written or left behind
    tree: dict[str, str]  # every file's sha256 (a link's "-> target"), by relative path


class Looked(TypedDict):
    """What ``state`` prints."""

    state: ProjectState


class Watched(TypedDict):
    """What ``run`` prints."""

    run: WatchedRun
    state: ProjectState


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def served_files(project: Path) -> dict[str, int]:
    """Open every file of the model being served; descriptors by path under models/current."""
    current = project / "models" / "current"
    if not current.is_dir():
        return {}
    held = {}
    for path in sorted(current.rglob("*")):
        if path.is_file():
            held[str(path.relative_to(current))] = os.open(path, os.O_RDONLY)
    return held


def read_held(descriptor: int) -> bytes:
    size = os.fstat(descriptor).st_size
    return os.pread(descriptor, size, 0)


def models_listing(project: Path) -> tuple[Any, ...]:
    models = project / "models"
    try:
        names = sorted(os.listdir(models))
    except OSError:
        return ()
    try:
        link = os.readlink(models / "current")
    except OSError:
        link = ""
    return (tuple(names), link)


class LinkWatch:
    """Sees, however short, every moment ``models/current`` is deleted or moved away and every
    CSV written into ``data/training/`` (inotify): a link swapped with one rename over it and a
    batch moved in with one rename make neither event; an unlink and a new link, or a copy
    (which a kill can cut in half), do, between two polls."""

    def __init__(self, project: Path) -> None:
        self.fd, self.folders = -1, {}
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self.fd = libc.inotify_init1(IN_NONBLOCK)
            for folder, mask in (
                ("models", IN_MOVED_FROM | IN_DELETE),
                ("data/training", IN_MODIFY),
            ):
                wd = libc.inotify_add_watch(self.fd, os.fsencode(project / folder), mask)
                if wd >= 0:
                    self.folders[wd] = folder
        except (OSError, AttributeError):
            self.fd = -1

    def seen(self) -> list[str]:
        """What happened since the last call, said as violations."""
        found = []
        while self.fd >= 0:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            offset = 0
            while offset + 16 <= len(data):
                wd, _, _, length = struct.unpack_from("iIII", data, offset)
                name = (
                    data[offset + 16 : offset + 16 + length].rstrip(b"\0").decode(errors="replace")
                )
                offset += 16 + length
                folder = self.folders.get(wd)
                if folder == "models" and name == "current":
                    found.append(LINK_GAP)
                elif folder == "data/training" and name.endswith(".csv"):
                    found.append(
                        f"data/training/{name[:80]} was written, not moved in with one rename: a "
                        "kill during the copy leaves half a batch in the training set"
                    )
        return found

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)


def watch(
    project: Path, kill_after: float | None, kill_on_write: bool, timeout: float
) -> WatchedRun:
    """Run the pipeline once under watch (see the module docstring)."""
    held = served_files(project)
    before = {name: (read_held(fd), os.fstat(fd)) for name, fd in held.items()}
    listing = models_listing(project)
    current = project / "models" / "current"
    violations: list[str] = []
    first_write = None
    killed = timed_out = False
    links = LinkWatch(project) if held else None
    with tempfile.TemporaryFile() as output:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run"],
            cwd=project,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while process.poll() is None:
            now = time.monotonic() - started
            changed = models_listing(project) != listing
            for name in rewritten(held, before):
                note(violations, f"models/current/{name} was written in place")
                changed = True
            if first_write is None and changed:
                first_write = round(now, 3)
            if held and not (current / "model.joblib").is_file():
                note(violations, "models/current had no model.joblib for a moment")
            for seen in links.seen() if links else []:
                note(violations, seen)
            stop = (kill_on_write and first_write is not None) or (
                kill_after is not None and now >= kill_after
            )
            if stop or now >= timeout:
                os.killpg(process.pid, signal.SIGKILL)
                killed, timed_out = stop, not stop
                break
            time.sleep(POLL_SECONDS)
        exit_code = process.wait()
        seconds = round(time.monotonic() - started, 3)
        # A pipeline whose last act is its write can change models/ and exit between two polls
        # (a busy machine leaves the watcher waiting for a CPU): the last look still sees it.
        if first_write is None and (models_listing(project) != listing or rewritten(held, before)):
            first_write = seconds
        if links:
            for seen in links.seen():
                note(violations, seen)
            links.close()
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    for name, descriptor in held.items():
        if read_held(descriptor) != before[name][0]:
            note(violations, f"models/current/{name} was written in place")
        os.close(descriptor)
    return WatchedRun(
        exit_code=exit_code,
        seconds=seconds,
        killed=killed,
        timed_out=timed_out,
        first_model_write=first_write,
        violations=violations,
        output=text[-OUTPUT_TAIL:],
    )


def rewritten(held: dict[str, int], before: dict[str, tuple[bytes, os.stat_result]]) -> list[str]:
    """The held files of models/current whose size or modification time changed."""
    changed = []
    for name, descriptor in held.items():
        now, then = os.fstat(descriptor), before[name][1]
        if (now.st_size, now.st_mtime_ns) != (then.st_size, then.st_mtime_ns):
            changed.append(name)
    return changed


def note(violations: list[str], text: str) -> None:
    if text not in violations:
        violations.append(text)


def state(project: Path, holdout: Path, batches: Sequence[Path]) -> ProjectState:
    """What the project holds: batches, quarantine, history, the served model, bad files."""
    data = project / "data"
    files = {p: p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}
    by_hash: dict[str, list[str]] = {}
    for path, content in files.items():
        by_hash.setdefault(sha256(content), []).append(str(path.relative_to(project)))
    training_ids = Counter(
        row.get(ID) for path in sorted((data / "training").glob("*.csv")) for row in rows(path)
    )
    incoming = data / "incoming"
    return ProjectState(
        incoming=sorted(p.name for p in incoming.iterdir()) if incoming.is_dir() else [],
        batches={
            batch.name: BatchFacts(
                locations=by_hash.get(sha256(batch.read_bytes()), []),
                training_rows=sum(training_ids[row.get(ID)] for row in rows(batch)),
            )
            for batch in batches
        },
        reasons={
            p.name.removesuffix(".reason.txt"): p.read_text(errors="replace")[:2000]
            for p in sorted((data / "quarantine").glob("*.reason.txt"))
        },
        history=history(project / "history.jsonl"),
        current=served_model(project, holdout),
        invalid=invalid_files(project),
        tree=tree(project),
    )


def rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file; none when it cannot be read as CSV (the learner's file)."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error):
        return []


def history(path: Path) -> History:
    if not path.is_file():
        return History(exists=False, entries=[], errors=[])
    entries, errors = [], []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            errors.append(f"line {number} is not JSON: {line[:120]}")
            continue
        if isinstance(entry, dict):
            entries.append(entry)
        else:
            errors.append(f"line {number} is not a JSON object")
    return History(exists=True, entries=entries, errors=errors)


def load_model(path: Path) -> Any:
    import joblib

    return joblib.load(path)


def served_model(project: Path, holdout: Path) -> ServedModel:
    current = project / "models" / "current"
    link = os.readlink(current) if current.is_symlink() else None
    exists = current.exists()
    try:
        inside = current.resolve().is_relative_to(project.resolve())
    except (OSError, RuntimeError):  # a link loop
        inside = False
    model_file = current / "model.joblib"
    found = ServedModel(
        exists=exists,
        link=link,
        holdout_auc=None,
        inside=inside,
        sha256=sha256(model_file.read_bytes()) if model_file.is_file() else None,
        error="",
    )
    if not found["exists"] or not model_file.is_file():
        found["error"] = "models/current/model.joblib does not exist"
        return found
    try:
        import pandas as pd
        from sklearn.metrics import roc_auc_score

        frame = pd.read_csv(holdout)
        model = load_model(model_file)
        scores = model.predict_proba(frame.drop(columns=[ID, LABEL]))[:, 1]
        found["holdout_auc"] = round(float(roc_auc_score(frame[LABEL], scores)), 6)
        found["error"] = ""
    except Exception as error:  # the learner's model: any failure is a finding
        found["error"] = f"{type(error).__name__}: {error}"[:500]
    return found


def invalid_files(project: Path) -> list[str]:
    """Files a run left half-written or behind: leftovers, and files that do not parse."""
    found = []
    for top in ("data", "models"):
        for path in sorted((project / top).rglob("*")):
            relative = str(path.relative_to(project))
            name = path.name.lower()
            hidden = name.startswith(".") and name not in KEEP_FILES
            if hidden or any(mark in name for mark in LEFTOVER_MARKS):
                found.append(f"{relative}: a leftover of an unfinished run")
            elif path.is_file() and not path.is_symlink():
                problem = unparsable(path, relative)
                if problem:
                    found.append(f"{relative}: {problem}")
    return found


def unparsable(path: Path, relative: str) -> str:
    try:
        if path.suffix == ".csv" and not relative.startswith("data/quarantine/"):
            content = path.read_bytes()
            if content and not content.endswith(b"\n"):
                return "ends in the middle of a line"
            lines = list(csv.reader(content.decode().splitlines()))
            widths = {len(line) for line in lines}
            if len(widths) > 1:
                return "rows of different lengths"
        elif path.suffix == ".joblib":
            load_model(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".jsonl":
            for line in path.read_text().splitlines():
                if line.strip():
                    json.loads(line)
    except Exception as error:
        return f"cannot be read ({type(error).__name__}: {str(error)[:120]})"
    return ""


def tree(project: Path) -> dict[str, str]:
    """Every file of the project (bytes' sha256) and link (its target), caches left out."""
    found = {}
    for path in sorted(project.rglob("*")):
        relative = str(path.relative_to(project))
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            found[relative] = "-> " + os.readlink(path)
        elif path.is_file():
            found[relative] = sha256(path.read_bytes())
    return found


def run(
    project: Path,
    *,
    holdout: Path,
    batch: Sequence[Path] = (),
    kill_after: float | None = None,
    kill_on_model_write: bool = False,
    timeout: float = 300,
) -> Watched:
    """Run the pipeline once under watch, then what the project holds (``batch``: the batches
    to follow)."""
    project = project.resolve()
    watched = watch(project, kill_after, kill_on_model_write, timeout)
    return Watched(run=watched, state=state(project, holdout, batch))


def look(project: Path, *, holdout: Path, batch: Sequence[Path] = ()) -> Looked:
    """What the project holds (``batch``: the batches to follow)."""
    return Looked(state=state(project.resolve(), holdout, batch))


if __name__ == "__main__":
    from probe_cli import serve

    serve({"run": run, "state": look})
