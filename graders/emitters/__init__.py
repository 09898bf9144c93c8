"""Report emitters: every output format is rendered from the one :class:`~graders.report.Report`.

``emit`` is the entry point; each format also has a pure ``render_*`` function in its own module
(the terminal format prints to a rich console instead).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from rich.console import Console

from graders.emitters.classroom import classroom_payload, render_classroom
from graders.emitters.github import render_github
from graders.emitters.gradebook import render_gradebook
from graders.emitters.gradescope import render_gradescope
from graders.emitters.junit import render_junit
from graders.emitters.prairielearn import render_prairielearn
from graders.emitters.terminal import print_report
from graders.report import Report, write_text_atomically

FORMATS: tuple[str, ...] = (
    "terminal",
    "json",
    "junit",
    "gradescope",
    "prairielearn",
    "github",
    "classroom",
    "csv",
)

#: The file each file-writing format produces inside ``out_dir``.
FILE_NAMES: dict[str, str] = {
    "json": "report.json",
    "junit": "junit.xml",
    "gradescope": "gradescope-results.json",
    "prairielearn": "prairielearn-results.json",
    "github": "step-summary.md",
    "classroom": "classroom-results.json",
    "csv": "gradebook.csv",
}

#: The renderer of every file format but ``json`` (``Report.write``); ``batch`` writes them all.
RENDERERS: dict[str, Callable[[Report], str]] = {
    "junit": render_junit,
    "gradescope": render_gradescope,
    "prairielearn": render_prairielearn,
    "github": render_github,
    "classroom": render_classroom,
    "csv": render_gradebook,
}

__all__ = [
    "FILE_NAMES",
    "FORMATS",
    "RENDERERS",
    "append_github_output",
    "append_step_summary",
    "emit",
    "print_report",
    "render_classroom",
    "render_github",
    "render_gradebook",
    "render_gradescope",
    "render_junit",
    "render_prairielearn",
]


def check_formats(formats: Iterable[str]) -> list[str]:
    """Validate format names and return them de-duplicated, in the order given.

    Raises ``ValueError`` naming the first unknown format and the valid choices.
    """
    chosen: list[str] = []
    for name in formats:
        if name not in FORMATS:
            raise ValueError(f"unknown report format {name!r} (choose from: {', '.join(FORMATS)})")
        if name not in chosen:
            chosen.append(name)
    return chosen


def append_step_summary(markdown: str) -> Path | None:
    """Append ``markdown`` to the file named by ``$GITHUB_STEP_SUMMARY``, when that is set.

    GitHub collects every step's summary from that one file, so this appends rather than
    replacing it (and therefore cannot be atomic). Returns the file, or None when unset.
    """
    target = os.environ.get("GITHUB_STEP_SUMMARY", "").strip()
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(markdown)
    return path


def append_github_output(name: str, value: str) -> Path | None:
    """Append the step output ``name=value`` to the file named by ``$GITHUB_OUTPUT``, when set.

    ``value`` must be one line (the classroom payload is base64). A newline is written first when
    the file does not end with one, so an earlier output's last line is never extended. Returns
    the file, or None when unset.
    """
    if "\n" in value or "\r" in value:
        raise ValueError("a one-line step output cannot hold a line break")
    target = os.environ.get("GITHUB_OUTPUT", "").strip()
    if not target:
        return None
    path = Path(target)
    with path.open("a+b") as stream:
        needs_newline = stream.tell() > 0 and _last_byte(stream) != b"\n"
        line = f"{name}={value}\n".encode()
        stream.write(b"\n" + line if needs_newline else line)
    return path


def _last_byte(stream: BinaryIO) -> bytes:
    """The last byte of a file opened for appending (the position is restored to its end)."""
    stream.seek(-1, os.SEEK_END)
    last = stream.read(1)
    stream.seek(0, os.SEEK_END)
    return last


def emit(
    report: Report,
    formats: Iterable[str],
    out_dir: Path,
    console: Console | None = None,
) -> list[Path]:
    """Write the file formats into ``out_dir`` and print the terminal format to ``console``.

    All names are validated before anything is written. Returns the files written in
    ``out_dir``, in the order of ``formats`` (``$GITHUB_STEP_SUMMARY``, which ``github`` appends
    to, and ``$GITHUB_OUTPUT``, which ``classroom`` appends ``result=<base64 JSON>`` to for GitHub
    Classroom's reporter, are not listed).
    """
    chosen = check_formats(formats)
    written: list[Path] = []
    for name in chosen:
        if name == "terminal":
            print_report(report, console if console is not None else Console())
            continue
        path = out_dir / FILE_NAMES[name]
        if name == "json":
            report.write(path)
        else:
            text = RENDERERS[name](report)
            write_text_atomically(path, text)
            if name == "github":
                append_step_summary(text)
            elif name == "classroom":
                append_github_output("result", classroom_payload(report))
        written.append(path)
    return written
