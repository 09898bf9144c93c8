"""history.jsonl: one JSON line per decision. A decision is written before its batch is moved,
so a run killed in between finishes the move next time instead of deciding again."""

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

HISTORY = "history.jsonl"


def digest(path: Path) -> str:
    """The sha256 of a file's bytes: with its name, what identifies a batch."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decided(root: Path) -> dict[tuple[str, str], dict]:
    """Every decision recorded so far, by its batch's name and sha256."""
    path = root / HISTORY
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):  # killed while appending: drop the partial line
        text = text[: text.rfind("\n") + 1]
        with open(path, "r+", encoding="utf-8") as history:
            history.truncate(len(text.encode()))
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    return {(entry["batch"], entry["sha256"]): entry for entry in entries if entry.get("sha256")}


def record(root: Path, **fields: object) -> dict:
    """Append one decision, stamped with the time, and flush it to disk."""
    entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **fields}
    line = (json.dumps(entry) + "\n").encode()
    descriptor = os.open(root / HISTORY, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return entry
