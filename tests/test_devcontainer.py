"""The dev container (.devcontainer/devcontainer.json), held to the official devcontainer.json
schema for the properties it uses.

No PyPI package ships that schema, and fetched files are not committed, so SCHEMA below restates
what devcontainers/spec's schemas/devContainer.base.schema.json defines for the properties we use
(name, image, features, hostRequirements, postCreateCommand, customizations), with its
``unevaluatedProperties: false`` as ``additionalProperties: false``; the option names of each
feature are those of its devcontainer-feature.json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from graders import kind

ROOT = Path(__file__).resolve().parent.parent
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
LIFECYCLE_COMMAND = {"type": ["string", "array", "object"], "items": {"type": "string"}}
SIZE = {"type": "string", "pattern": r"^\d+([tgmk]b)?$"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["image"],
    "properties": {
        "name": {"type": "string"},
        "image": {"type": "string"},
        "features": {"type": "object", "additionalProperties": True},
        "hostRequirements": {
            "type": "object",
            "properties": {
                "cpus": {"type": "integer", "minimum": 1},
                "memory": SIZE,
                "storage": SIZE,
            },
            "additionalProperties": False,
        },
        "postCreateCommand": LIFECYCLE_COMMAND,
        "customizations": {"type": "object"},
    },
    "additionalProperties": False,
}
FEATURE_OPTIONS = {  # option names, from each feature's devcontainer-feature.json
    "ghcr.io/devcontainers/features/docker-in-docker": {
        "version", "moby", "dockerDashComposeVersion", "azureDnsAutoDetection",
        "dockerDefaultAddressPool", "installDockerBuildx", "installDockerComposeSwitch",
    },
    "ghcr.io/devcontainers/features/kubectl-helm-minikube": {
        "version", "helm", "minikube", "installToolPath",
    },
    "ghcr.io/devcontainers-extra/features/kind": {"version"},
}  # fmt: skip


def strip_jsonc(text: str) -> str:
    """``text`` without its // and /* */ comments (devcontainer.json is JSON with comments)."""
    pattern = r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/'
    return re.sub(pattern, lambda found: found.group(1) or "", text, flags=re.DOTALL)


def devcontainer() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(strip_jsonc(DEVCONTAINER.read_text()))
    return loaded


def test_strip_jsonc_keeps_slashes_inside_strings() -> None:
    assert json.loads(strip_jsonc('{"a": "x//y" // note\n, /* b */ "c": 1}')) == {
        "a": "x//y",
        "c": 1,
    }


def test_devcontainer_uses_only_what_the_official_schema_defines() -> None:
    errors = list(jsonschema.Draft201909Validator(SCHEMA).iter_errors(devcontainer()))
    assert [error.message for error in errors] == []


def test_devcontainer_schema_subset_rejects_an_unknown_property() -> None:
    wrong = {**devcontainer(), "postCreateCommands": "bash scripts/setup.sh"}
    assert list(jsonschema.Draft201909Validator(SCHEMA).iter_errors(wrong))


@pytest.mark.parametrize("feature", sorted(FEATURE_OPTIONS))
def test_devcontainer_feature_options_are_the_feature_s_own(feature: str) -> None:
    features = devcontainer()["features"]
    (reference,) = [ref for ref in features if ref.rsplit(":", 1)[0] == feature]
    assert set(features[reference]) <= FEATURE_OPTIONS[feature]


def test_devcontainer_pins_kind_and_kubectl_as_the_cluster_uses() -> None:
    features = devcontainer()["features"]
    assert features["ghcr.io/devcontainers-extra/features/kind:1"]["version"] == kind.KIND_VERSION
    node = re.search(r"kindest/node v(\d+\.\d+\.\d+)", kind.KIND_CONFIG.read_text())
    assert node, "infra/kind/cluster.yaml names the node image"
    kubectl = features["ghcr.io/devcontainers/features/kubectl-helm-minikube:1"]["version"]
    assert kubectl == node.group(1)


def test_devcontainer_runs_setup_in_python_311_with_its_own_engine() -> None:
    config = devcontainer()
    assert config["image"].startswith("mcr.microsoft.com/devcontainers/python:3.11")
    assert "ghcr.io/devcontainers/features/docker-in-docker:2" in config["features"]
    assert config["postCreateCommand"] == "bash scripts/setup.sh"


def test_setup_uses_an_engine_that_answers_before_it_would_start_one() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    guard = setup.index("if ! docker info >/dev/null 2>&1; then")
    assert guard < setup.index("nohup dockerd")
    assert setup.index('if [ "$(id -u)" != 0 ]; then', guard) < setup.index("nohup dockerd")
