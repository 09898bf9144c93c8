"""What the tests that hold labs to their contract import: the contract's own code, in
``graders.contract`` (checks, README criteria, mutants) and ``graders.selftest`` (the verdicts)."""

from __future__ import annotations

from graders.checks import DeclaredCheck
from graders.contract import (
    CRITERION,
    Mutant,
    images_available,
    mutants_of,
    patched_copy,
    readme_criteria,
)
from graders.contract import lab_checks as declared_checks

__all__ = [
    "CRITERION",
    "DeclaredCheck",
    "Mutant",
    "declared_checks",
    "images_available",
    "mutants_of",
    "patched_copy",
    "readme_criteria",
]
