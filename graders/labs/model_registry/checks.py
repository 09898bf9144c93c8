"""Grader of professional/01-model-registry: its acceptance criteria, in order, one check each.

The learner's server runs as ``registry`` on a private network with a volume; their tool and
serving snippet run in a sandbox on that network (see ``model_registry_fixtures``). The checks read
what the grader observed around each command of one scenario (``model_registry_scenario``),
and the registry itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from graders.checks import check
from graders.containers.workspace import Workspace
from graders.labs.model_registry.audit import (
    audit_events,
    expected_events,
    rollback_targets,
    timestamp,
)
from graders.labs.model_registry.concurrency import Concurrent
from graders.labs.model_registry.fixtures import SERVICE, RegistryServer
from graders.labs.model_registry.probe import Health, RegisteredModel, Seed, Seeded
from graders.labs.model_registry.scenario import Scenario, moved_to, probe, served
from graders.labs.model_registry.server import (
    alias_writes,
    ended_before_settling,
    health_problem,
    user_problems,
)

SERVES = ("test_server_builds_and_answers_by_its_service_name",)
CLOCK_SLACK = 5.0


@check(
    1,
    points=10,
    hint="A failed build: read its first error (pip: install mlflow==3.17.2 with -c "
    "constraints.txt; COPY: only files inside server/). No answer: the server's last output says "
    "why (it must listen on 0.0.0.0:5000 and write only under /data). A 403: --allowed-hosts must "
    "name registry and registry:5000.",
)
def test_server_builds_and_answers_by_its_service_name(
    registry_server: RegistryServer, workspace: Workspace
) -> None:
    """The server image builds and starts; it answers API calls made through its service name"""
    # registry_server fails this check with the build log when the image does not build
    assert registry_server.settling is not None, "the grader lost your registry's container"
    ended = ended_before_settling(registry_server.settling)
    assert ended is None, (
        f"your registry answered /health, then its container ended before it had settled "
        f"(exit {ended}); MLflow's default workers and job runner need more memory than the "
        "grader's 1536 MB: pass --workers 1 and set MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false"
        if ended and ended.oom_killed
        else f"your registry answered /health, then its container ended (exit {ended})"
    )
    answer: Health = probe(workspace, "health")
    assert answer["api"] == 200, (
        f"GET http://{SERVICE}:5000/api/2.0/mlflow/registered-models/search answered "
        f"{answer['api']}: {str(answer['body'])[:300]}"
        + (
            " (the server refuses the Host header: --allowed-hosts must name registry and "
            "registry:5000)"
            if answer["api"] == 403
            else ""
        )
    )


@check(
    2,
    points=5,
    requires=SERVES,
    hint="Create a user with a fixed UID, chown /data to it and switch to it with USER (before "
    "VOLUME /data); HEALTHCHECK must ask the server itself: python -c with urllib.request on "
    "http://127.0.0.1:5000/health (the image has no curl).",
)
def test_server_runs_as_its_own_user_and_becomes_healthy(registry_server: RegistryServer) -> None:
    """The server runs as a user that is not root and owns `/data`, and becomes healthy by its
    own `HEALTHCHECK`"""
    container = registry_server.container
    assert container is not None, "the grader lost your registry's container"
    problems = user_problems(container)
    unhealthy = health_problem(container, registry_server.ready_at)
    assert not problems and unhealthy is None, "\n".join([*problems, *filter(None, [unhealthy])])


@check(
    3,
    points=10,
    requires=SERVES,
    hint="Keep the database (sqlite:////data/...) and the artifacts (--artifacts-destination "
    "/data/artifacts) under VOLUME /data: a new container on the same volume must find the run, "
    "its metric, the version and the artifact, and start again from that data.",
)
def test_registry_data_survives_a_new_container(
    registry_server: RegistryServer, workspace: Workspace, progress: Callable[[str], None]
) -> None:
    """Registry data survives a container restart (persistence on the volume)"""
    token = uuid.uuid4().hex[:8]
    seeded: Seed = workspace.probe(
        "seed",
        token,
        timeout=300,
        failure="an MLflow client could not log a run with an artifact through your registry "
        "(the client itself writes to an artifact root the server only names, such as "
        "--default-artifact-root; --artifacts-destination has the server store them)",
    )
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
    4,
    points=15,
    requires=SERVES,
    hint="Log the model and register it under --name once (not registered_model_name= as well: "
    "two versions), exit 0, and set git_commit, data_version, training_run, author and roc_auc on "
    "the new version, each exactly as given (roc_auc as text, not rounded).",
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
    5,
    points=15,
    requires=SERVES,
    hint="promote sets the alias champion on the version when the gate passes (a roc_auc equal "
    "to the champion's passes); serve.py loads models:/<name>@champion, so it serves the new "
    "champion without a code change.",
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
        version, predictions = answer.get("version"), answer.get("predictions")
        assert version == step.version, (
            f"serve.py served version {json.dumps(version)}, the champion is "
            f'"{step.version}" (a version is a string, as MLflow gives it)'
        )
        assert isinstance(predictions, list) and all(type(p) is int for p in predictions), (
            "serve.py's predictions must be a list of integers (0 or 1), not "
            f"{json.dumps(predictions)[:80]}"
        )
        assert predictions == scenario.models["predictions"][model], (
            f"serve.py's predictions are not those of version {step.version}'s model"
        )
    reviewed = scenario.steps["promote-reviewed"]  # its roc_auc equals the champion's
    moved_to(reviewed, reviewed.version, "once approved, with a roc_auc equal to the champion's")


@check(
    6,
    points=15,
    requires=SERVES,
    hint="Refuse (exit 1, the reason on stderr) when a lineage tag or the approved_by tag is "
    "missing or empty, or when roc_auc is lower than the champion's; move nothing then.",
)
def test_promote_refuses_a_worse_or_unapproved_model(
    scenario: Scenario, registry_server: RegistryServer
) -> None:
    """`promote` of a worse or unapproved model is refused with a non-zero exit and a reason;
    nothing moves"""
    assert registry_server.container is not None, "the grader lost your registry's container"
    for key, what in (
        ("promote-worse", "a worse model"),
        ("promote-unapproved", "an unapproved model"),
        ("promote-blank-approval", "a model whose approved_by is empty ('')"),
    ):
        step = scenario.steps[key]
        assert step.result.exit_code != 0, (
            f"promote of {what} (version {step.version}) exited 0:\n{step.output()}"
        )
        assert not step.moved, f"promote of {what} moved champion to {step.after}"
        assert step.output().strip(), f"promote of {what} was refused without a reason"
        writes = alias_writes(registry_server.container, step.started, step.finished + 0.5)
        assert not writes, (
            f"promote of {what} was refused, but while it ran your registry logged "
            f"{', '.join(writes)}: an alias moved, if only for a moment (serve.py or a "
            "teammate could have read it then); check first and move only when the gate passes"
        )


@check(
    7,
    points=10,
    requires=SERVES,
    hint="Keep the champions as a stack replayed from the trail: a promotion pushes, a rollback "
    "pops and restores the one below (never the version number minus one, never the one the "
    "last rollback left); with nothing below, exit non-zero and move nothing.",
)
def test_rollback_restores_the_previous_champion(scenario: Scenario) -> None:
    """`rollback` restores the previous champion, then the one before it"""
    for number, (step, target, history) in enumerate(rollback_targets(scenario), start=1):
        which = f"rollback #{number} (champions so far, oldest first: {history or 'none'})"
        if target is None:
            assert step.result.exit_code != 0 and not step.moved, (
                f"{which} had nothing left to restore, so it must exit non-zero and move "
                f"nothing; it exited {step.result.exit_code} and left champion on "
                f"{step.after!r}:\n{step.output()}"
            )
            continue
        assert step.result.ok, f"{which} failed (exit {step.result.exit_code}):\n{step.output()}"
        assert step.after == target, (
            f"{which} left champion on {step.after!r}; it must restore {target!r}, the champion "
            f"before {history[-1]!r}"
        )


@check(
    8,
    points=10,
    requires=SERVES,
    hint="Record every alias move and every refused promotion where every client sees it (in "
    "the registry), with who ($REGISTRY_ACTOR), when (ISO 8601 with a time zone), from, to and "
    "why; audit prints them oldest first, one JSON object per line and nothing else.",
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
    numbers = [v for _, f, t in said for v in (f, t) if v is not None and not isinstance(v, str)]
    assert not numbers, (
        f'the audit\'s from and to are versions as strings ("1") or null, as MLflow returns '
        f"them; it has {str(numbers[0])[:40]} ({type(numbers[0]).__name__})"
    )
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
    9,
    points=10,
    requires=SERVES,
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
