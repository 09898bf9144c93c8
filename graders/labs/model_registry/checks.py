"""Grader of professional/01-model-registry: its acceptance criteria, in order, one check each.

The learner's server runs as ``registry`` on a private network with a volume; their tool and
serving snippet run in a sandbox on that network (see ``model_registry_fixtures``). The checks read
what the grader observed around each command of one scenario (``model_registry_scenario``),
and the registry itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from graders.checks import check
from graders.containers.workspace import Workspace
from graders.errors import LearnerFailure
from graders.labs.model_registry.audit import PROMOTIONS, audit_events, expected_events, timestamp
from graders.labs.model_registry.fixtures import SERVICE, RegistryServer
from graders.labs.model_registry.probe import Health, RegisteredModel, Seed, Seeded
from graders.labs.model_registry.scenario import Concurrent, Scenario, moved_to, probe, served

SERVES = ("test_server_builds_and_answers_by_its_service_name",)
REGISTERS = (*SERVES, "test_register_creates_a_version_with_every_lineage_tag")
CLOCK_SLACK = 5.0


@check(
    1,
    points=15,
    hint="Build FROM python:3.11-slim, install mlflow==3.17.2, and start `mlflow server` on "
    "0.0.0.0:5000 with --allowed-hosts naming the service name registry (and registry:5000).",
)
def test_server_builds_and_answers_by_its_service_name(
    registry_server: RegistryServer, workspace: Workspace
) -> None:
    """The server image builds and becomes healthy; it answers API calls made through its
    service name"""
    # registry_server fails this check with the build log when the image does not build
    answer: Health = probe(workspace, "health")
    assert answer["api"] == 200, (
        f"GET http://{SERVICE}:5000/api/2.0/mlflow/registered-models/search answered "
        f"{answer['api']}: {str(answer['body'])[:300]}"
        + (
            " (the server refuses the Host header: pass --allowed-hosts)"
            if answer["api"] == 403
            else ""
        )
    )


@check(
    2,
    points=10,
    requires=SERVES,
    hint="Keep the database and the artifacts under /data (VOLUME /data): a new container on "
    "the same volume must find everything.",
)
def test_registry_data_survives_a_new_container(
    registry_server: RegistryServer, workspace: Workspace, progress: Callable[[str], None]
) -> None:
    """Registry data survives a container restart (persistence on the volume)"""
    token = uuid.uuid4().hex[:8]
    seeded: Seed = probe(workspace, "seed", token)
    assert seeded["version_status"] == 200, (
        f"the registry refused to create a model version (HTTP {seeded['version_status']})"
    )
    progress("replacing your registry container (same image, same volume)")
    registry_server.replace(workspace)
    kept: Seeded = probe(workspace, "seeded", token, seeded["run_id"])
    lost = [what for what in ("run", "metric", "version", "artifact") if not kept.get(what)]
    assert not lost, (
        "after the container was replaced by a new one on the same /data volume, the registry "
        f"lost: {', '.join(lost)} {kept.get('artifact_error', '')}"
    )


@check(
    3,
    points=15,
    requires=SERVES,
    hint="Log the model, register it under --name, and set the tags git_commit, data_version, "
    "training_run, author and roc_auc on the new model version.",
)
def test_register_creates_a_version_with_every_lineage_tag(
    scenario: Scenario, workspace: Workspace
) -> None:
    """`register` creates a new version with every lineage tag"""
    state: RegisteredModel = probe(workspace, "model", scenario.name)
    for key, lineage in scenario.models["lineage"].items():
        version = scenario.steps[key].version
        tags = state["versions"].get(version, {}) if version else {}
        wrong = {k: tags.get(k) for k, v in lineage.items() if tags.get(k) != v}
        assert not wrong, (
            f"version {version} ({key}) lacks lineage tags or has the wrong values: {wrong} "
            f"(given: {lineage})"
        )


@check(
    4,
    points=15,
    requires=REGISTERS,
    hint="promote sets the alias champion on the version when the gate passes; serve.py loads "
    "models:/<name>@champion, so it serves the new champion without a code change.",
)
def test_promote_moves_champion_and_serving_follows(scenario: Scenario) -> None:
    """`promote` of a better, approved model moves `champion`; serving by alias now returns its
    predictions"""
    first, better = scenario.steps["promote-baseline"], scenario.steps["promote-better"]
    moved_to(first, first.version)
    for key, step, model in (("baseline", first, "baseline"), ("better", better, "better")):
        if key == "better":
            moved_to(step, step.version)
        answer = served(scenario, key)
        assert str(answer.get("version")) == step.version, (
            f"serve.py served version {answer.get('version')}, the champion is {step.version}"
        )
        assert answer.get("predictions") == scenario.models["predictions"][model], (
            f"serve.py's predictions are not those of version {step.version}'s model"
        )


@check(
    5,
    points=15,
    requires=REGISTERS,
    hint="Refuse (exit 1, the reason on stderr) when a lineage tag or the approved_by tag is "
    "missing, or when roc_auc is lower than the champion's; move nothing then.",
)
def test_promote_refuses_a_worse_or_unapproved_model(scenario: Scenario) -> None:
    """`promote` of a worse or unapproved model is refused with a non-zero exit and a reason;
    nothing moves"""
    for key, what in (("promote-worse", "a worse"), ("promote-unapproved", "an unapproved")):
        step = scenario.steps[key]
        assert step.result.exit_code != 0, (
            f"promote of {what} model (version {step.version}) exited 0:\n{step.output()}"
        )
        assert not step.moved, f"promote of {what} model moved champion to {step.after}"
        assert step.output().strip(), f"promote of {what} model was refused without a reason"


@check(
    6,
    points=10,
    requires=REGISTERS,
    hint="Roll back to the champion before the last promotion (keep that history), not to the "
    "version number before the current one.",
)
def test_rollback_restores_the_previous_champion(scenario: Scenario) -> None:
    """`rollback` restores the previous champion"""
    moves = [scenario.steps[k] for k in PROMOTIONS if scenario.steps[k].moved]
    if not moves or moves[-1].before is None:
        raise LearnerFailure("no promotion replaced a champion, so there is nothing to roll back")
    step = scenario.steps["rollback"]
    moved_to(step, moves[-1].before)


@check(
    7,
    points=10,
    requires=REGISTERS,
    hint="Record every alias move and every refusal where every client sees it (in the "
    "registry), with who ($REGISTRY_ACTOR), when (ISO 8601), from, to and why.",
)
def test_audit_lists_every_move_and_refusal(scenario: Scenario) -> None:
    """`audit` lists every alias move and refusal in order with who/when/from/to/why, matching
    what happened"""
    events = audit_events(scenario.steps["audit"])
    expected = expected_events(scenario)
    said = [(e.get("action"), e.get("from"), e.get("to")) for e in events]
    saw = [(action, before, after) for action, _, before, after in expected]
    normal = [
        (a, str(f) if f is not None else None, str(t) if t is not None else None)
        for a, f, t in said
    ]
    assert normal == saw, f"the audit says {said}; the grader saw {saw}"
    for event, (action, step, _, _) in zip(events, expected, strict=True):
        assert event.get("who") == step.actor, (
            f"the {action} event says who={event.get('who')!r}; it was {step.actor!r}"
        )
        when = timestamp(event.get("time"))
        assert when is not None and step.started - CLOCK_SLACK <= when <= (
            step.finished + CLOCK_SLACK
        ), f"the {action} event's time {event.get('time')!r} is not when it happened"
        assert str(event.get("why") or "").strip(), f"the {action} event has no why"


@check(
    8,
    points=10,
    requires=REGISTERS,
    hint="Let the registry create the model and number the versions: two registrations at the "
    "same moment must not race on 'does the model exist yet?'.",
)
def test_concurrent_registers_get_distinct_versions(concurrent_registers: Concurrent) -> None:
    """Two concurrent `register` calls both succeed with distinct versions"""
    found = concurrent_registers
    for number, code in enumerate(found.exit_codes):
        assert code == 0, (
            f"register #{number + 1} of two at the same moment exited {code}:\n"
            + found.outputs[number][-800:]
        )
    commits = sorted(tags.get("git_commit", "") for tags in found.versions.values())
    assert commits == sorted(found.commits), (
        f"two registers at the same moment left versions {sorted(found.versions)} with "
        f"git_commit tags {commits} (expected one version each: {sorted(found.commits)})"
    )
