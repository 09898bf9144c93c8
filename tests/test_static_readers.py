"""Readers of learners' files that need no Docker: FROM lines, pins, hadolint."""

from __future__ import annotations

from pathlib import Path

import pytest

from graders.containers.dockerfile import base_images, hadolint_findings, is_pinned
from graders.requirements import read_pins


def test_base_images_skips_references_to_earlier_stages() -> None:
    text = (
        "FROM python:3.11-slim AS build\nRUN true\nFROM build AS test\n"
        "FROM gcr.io/distroless/python3:nonroot\n"
    )
    assert base_images(text) == ["python:3.11-slim", "gcr.io/distroless/python3:nonroot"]


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("python:3.11-slim", True),
        ("python", False),
        ("python:latest", False),
        ("registry:5000/python", False),
        ("registry:5000/python:3.11", True),
        ("python@sha256:" + "a" * 64, True),
        ("${BASE}", False),
        ("scratch", True),
    ],
)
def test_is_pinned_needs_an_explicit_non_latest_tag(image: str, pinned: bool) -> None:
    assert is_pinned(image) is pinned


def test_read_pins_separates_pinned_from_unpinned_lines() -> None:
    pins, unpinned = read_pins(
        "# deps\nScikit_Learn==1.9.1\nuvicorn[standard]==0.54.0  # server\nfastapi>=0.1\n"
        "numpy\n-r other.txt\n\n"
    )
    assert pins == {"scikit-learn": "1.9.1", "uvicorn": "0.54.0"}
    assert unpinned == ["fastapi>=0.1", "numpy"]


def test_hadolint_reports_add_of_a_local_file_as_an_error(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        'FROM python:3.11-slim\nADD app.py /app/\nCMD ["python", "/app/app.py"]\n'
    )
    findings = hadolint_findings(dockerfile)
    assert [(f["code"], f["level"]) for f in findings] == [("DL3020", "error")]


def test_build_log_tail_leaves_out_the_legacy_builder_notice() -> None:
    from graders.containers.images import BuildResult

    log = (
        "Step 4/16 : COPY requirement.txt .\n"
        "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.\n"
        "            Install the buildx component to build images with BuildKit:\n"
        "            https://docs.docker.com/go/buildx/\n"
        "COPY failed: file not found in build context: stat requirement.txt: file does not exist\n"
    )
    tail = BuildResult(False, "t", log, 1.0).log_tail()
    assert tail.splitlines() == [
        "Step 4/16 : COPY requirement.txt .",
        "COPY failed: file not found in build context: stat requirement.txt: file does not exist",
    ]
