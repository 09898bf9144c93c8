"""The audit of professional/01-model-registry: the events the learner's tool printed, and the
events the grader saw happen during the scenario."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from graders.errors import LearnerFailure
from graders.labs.model_registry.scenario import PROMOTIONS, ROLLBACKS, Scenario, Step


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
    """(action, step, from, to) for what the grader saw before the audit ran: every move and
    every refused promotion."""
    found = []
    for key, step in scenario.steps.items():
        if key == "audit":
            break
        if key in ROLLBACKS and step.moved:
            found.append(("rollback", step, step.before, step.after))
        elif key in PROMOTIONS and step.moved:
            found.append(("promote", step, step.before, step.after))
        elif key in PROMOTIONS and not step.result.ok:
            found.append(("refuse", step, step.before, step.version))
    return found


def rollback_targets(scenario: Scenario) -> list[tuple[Step, str | None, list[str]]]:
    """For each rollback, in order: the step, the champion that a correct tool restores after the
    moves the grader saw (None: nothing left to restore, so it must refuse), and the champions
    then, oldest first. Each promotion that moved champion pushes its version (after the one it
    replaced, on an empty stack); each rollback pops one and restores the one below."""
    champions: list[str] = []
    found: list[tuple[Step, str | None, list[str]]] = []
    for key, step in scenario.steps.items():
        if key in PROMOTIONS and step.moved and step.after is not None:
            if not champions and step.before is not None:
                champions.append(step.before)
            champions.append(step.after)
        elif key in ROLLBACKS:
            history = list(champions)
            if len(champions) >= 2:
                champions.pop()
                found.append((step, champions[-1], history))
            else:
                found.append((step, None, history))
    return found


def timestamp(value: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (None when it is not one)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo else None
