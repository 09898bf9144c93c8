"""The audit trail: every alias move and every refused promotion, kept in the registry itself as
registered-model tags ``audit.000001``, ``audit.000002``… (JSON), so every client sees the same."""

import getpass
import json
import os
from datetime import UTC, datetime

from mlflow import MlflowClient

PREFIX = "audit."


def actor() -> str:
    """Who runs the command: $REGISTRY_ACTOR, or the login name."""
    return os.environ.get("REGISTRY_ACTOR") or getpass.getuser()


def events(client: MlflowClient, name: str) -> list[dict]:
    """Every recorded event of a model, oldest first."""
    tags = client.get_registered_model(name).tags
    return [json.loads(tags[key]) for key in sorted(k for k in tags if k.startswith(PREFIX))]


def record(client: MlflowClient, name: str, action: str, before: str | None, after: str | None,
           why: str) -> dict:
    """Append one event: who did ``action`` when, moving champion from ``before`` to ``after``."""
    event = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "who": actor(),
             "action": action, "from": before, "to": after, "why": why}
    number = len(events(client, name)) + 1
    client.set_registered_model_tag(name, f"{PREFIX}{number:06d}", json.dumps(event))
    return event
