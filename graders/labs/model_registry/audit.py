"""The audit of professional/01-model-registry: the events the learner's tool printed, and the
events the grader saw happen during the scenario."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from graders.errors import LearnerFailure
from graders.labs.model_registry.scenario import Scenario, Step

PROMOTIONS = ("promote-baseline", "promote-worse", "promote-unapproved", "promote-better")


def audit_events(step: Step) -> list[dict[str, Any]]:
    """The events ``python -m registry audit`` printed: JSON lines (or one JSON array)."""
    text = step.result.stdout.strip()
    if not step.result.ok:
        raise LearnerFailure(f"`python -m registry audit` failed:\n{step.output()}")
    try:
        if text.startswith("["):
            return list(json.loads(text))
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        raise LearnerFailure(f"the audit is not JSON lines:\n{step.output()}") from None


def expected_events(scenario: Scenario) -> list[tuple[str, Step, str | None, str | None]]:
    """(action, step, from, to) for what the grader saw: every move and every refusal."""
    found = []
    for key in (*PROMOTIONS, "rollback"):
        step = scenario.steps[key]
        if step.moved:
            found.append(
                ("rollback" if key == "rollback" else "promote", step, step.before, step.after)
            )
        elif not step.result.ok and key != "rollback":
            found.append(("refuse", step, step.before, step.version))
    return found


def timestamp(value: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (None when it is not one)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo else None
