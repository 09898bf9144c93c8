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
        "numpy\n-r other.txt\n--index-url https://pypi.example/simple\n-e .\n\n"
    )
    assert {name: pin.version for name, pin in pins.items()} == {
        "scikit-learn": "1.9.1",
        "uvicorn": "0.54.0",
    }
    assert unpinned == ["fastapi>=0.1", "numpy"]


@pytest.mark.parametrize(
    "line",
    [
        "pandas == 3.1.1",
        "pandas==3.1.1",
        "pandas ===3.1.1",
        "Pandas[performance] == 3.1.1",
        'pandas==3.1.1; python_version >= "3.11"',
        "pandas==3.1.1 --hash=sha256:" + "a" * 64,
    ],
)
def test_read_pins_pins_every_spelling_of_an_exact_version(line: str) -> None:
    pins, unpinned = read_pins(line + "\n")
    assert (list(pins), pins["pandas"].version, unpinned) == (["pandas"], "3.1.1", [])


def test_read_pins_reads_arbitrary_equality_as_the_text_after_three_equals() -> None:
    pins, _ = read_pins("numpy===2.4.6\n")
    assert pins["numpy"].version == "2.4.6"
    assert str(pins["numpy"]) == "numpy===2.4.6"


def test_read_pins_joins_continuation_lines_and_leaves_out_their_hashes() -> None:
    text = "joblib==1.6.0 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\nscipy==1.17.1\n"
    pins, unpinned = read_pins(text)
    assert ({n: p.version for n, p in pins.items()}, unpinned) == (
        {"joblib": "1.6.0", "scipy": "1.17.1"},
        [],
    )


@pytest.mark.parametrize(
    "line",
    ["numpy==2.*", "numpy>=2,<3", "numpy~=2.4", "pkg @ https://example.com/pkg-1.0.whl", "./local"],
)
def test_read_pins_counts_wildcards_ranges_and_urls_as_unpinned(line: str) -> None:
    pins, unpinned = read_pins(line + "\n")
    assert (pins, unpinned) == ({}, [line])


@pytest.mark.parametrize(
    ("line", "installed", "matches"),
    [
        ("numpy==1.9", "1.9.0", True),  # PEP 440: 1.9 is 1.9.0
        ("numpy==1.10.0", "1.9.0", False),  # as strings "1.10.0" < "1.9.0"; as versions not equal
        ("numpy==2.4.6", "2.4.6", True),
        ("numpy===2.4.6", "2.4.6", True),
        ("numpy===2.4", "2.4.0", False),  # arbitrary equality compares the text
        ("numpy==2.4.6", None, False),  # not installed
        ("numpy==2.4.6", "not-a-version", False),
    ],
)
def test_pin_compares_installed_versions_as_versions(
    line: str, installed: str | None, matches: bool
) -> None:
    pins, _ = read_pins(line)
    assert pins["numpy"].matches(installed) is matches


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
