"""The grader's MLflow tracking server on a real engine: it starts from the runner image's
pre-migrated empty database, serves as a new server would, and keeps a database already there."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager

import docker
import pytest
from docker.models.containers import Container

from graders.containers.cleanup import remove_run_resources, run_labels
from graders.containers.running import run_network
from graders.containers.sandbox import runner_image
from graders.containers.services import Service
from graders.fixtures.mlflow import EMPTY_DATABASE, MLFLOW_PORT, running_tracking_server

pytestmark = pytest.mark.docker
LOCAL = f"http://127.0.0.1:{MLFLOW_PORT}"
MIGRATING = "Creating initial MLflow database tables"  # MLflow's log line when it migrates
# Run in the server's container: what the server holds, read through its API and its database,
# beside a store made here as a new server makes one (tables, every migration, experiment 0).
INSPECT = """
import json, sqlite3, sys
import mlflow
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

url, served, create, read, image = sys.argv[1:]
client = mlflow.MlflowClient(url)
made = client.create_experiment(create) if create else None
found = client.get_experiment_by_name(read)
default = client.get_experiment("0")


def shape(path):
    # each object's definition as a sorted list of its lines: MLflow's migrations write the runs
    # table's constraints in an order that differs from one run to the next
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [
            [kind, name, sorted(line.strip().rstrip(",") for line in (sql or "").splitlines())]
            for kind, name, sql in db.execute("SELECT type, name, sql FROM sqlite_master")
        ]
        version = db.execute("SELECT version_num FROM alembic_version").fetchall()
        zero = db.execute(
            "SELECT name, artifact_location, lifecycle_stage, workspace FROM experiments"
            " WHERE experiment_id = 0"
        ).fetchall()
        return {"schema": sorted(tables), "alembic": version, "experiment_0": zero}


SqlAlchemyStore("sqlite:////tmp/new.db", "mlflow-artifacts:/")
print(json.dumps({
    "made": made,
    "found": found.experiment_id if found else None,
    "default": [default.name, default.artifact_location, default.creation_time],
    "served": shape(served),
    "image": shape(image),
    "new": shape("/tmp/new.db"),
}))
"""


@pytest.fixture(scope="module")
def runner(docker_engine: docker.DockerClient) -> str:
    return runner_image(docker_engine)


@pytest.fixture
def run_id(docker_engine: docker.DockerClient) -> Iterator[str]:
    made = "test-" + uuid.uuid4().hex[:8]
    try:
        yield made
    finally:
        remove_run_resources(docker_engine, made)


def inspect(container: Container, database: str, *, create: str = "", read: str) -> dict:
    """Run INSPECT in the server's container; what it printed."""
    done = container.exec_run(
        ["python", "-c", INSPECT, LOCAL, database, create, read, EMPTY_DATABASE], demux=True
    )
    stdout, stderr = done.output
    assert done.exit_code == 0, (stderr or b"").decode()[-2000:]
    answer: dict = json.loads(stdout.decode().strip().splitlines()[-1])
    return answer


def test_a_new_store_starts_from_the_pre_migrated_database_as_a_new_server_would(
    docker_engine: docker.DockerClient, runner: str, run_id: str
) -> None:
    started_ms = time.time() * 1000
    with (
        run_network(docker_engine, run_id, f"mlops-labs-{run_id}-internal", internal=True) as net,
        running_tracking_server(docker_engine, runner, run_id, net.name) as (service, _),
    ):
        logs = service.container.logs().decode(errors="replace")
        held = inspect(
            service.container, "/tmp/mlflow.db", create="premigrated", read="premigrated"
        )
    assert MIGRATING not in logs, "the server migrated a database of its own"
    assert held["made"] is not None and held["found"] == held["made"]
    name, location, created = held["default"]
    assert (name, location) == ("Default", "mlflow-artifacts:/0")
    assert created >= started_ms - 5000, "experiment 0 came from the image, not the server's start"
    assert held["served"]["schema"] == held["new"]["schema"] == held["image"]["schema"]
    assert held["served"]["alembic"] == held["new"]["alembic"] != []
    assert held["served"]["experiment_0"] == held["new"]["experiment_0"]
    assert held["image"]["experiment_0"] == [], "the image's database holds no experiment"


def test_a_store_that_already_holds_a_database_is_served_as_it_is(
    docker_engine: docker.DockerClient, runner: str, run_id: str
) -> None:
    volume = docker_engine.volumes.create(
        f"mlops-labs-{run_id}-store",
        driver="local",
        driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=64m,uid=10001,gid=10001"},
        labels=run_labels(run_id),
    )
    # a tmpfs volume lives while a container has it mounted: this one holds it between servers
    docker_engine.containers.run(
        runner,
        ["sleep", "infinity"],
        detach=True,
        network_mode="none",
        labels=run_labels(run_id),
        volumes={volume.name: {"bind": "/store", "mode": "rw"}},
    )
    with run_network(docker_engine, run_id, f"mlops-labs-{run_id}-internal", internal=True) as net:

        def server() -> AbstractContextManager[tuple[Service, str]]:
            on_volume = {volume.name: "/store"}
            return running_tracking_server(
                docker_engine, runner, run_id, net.name, store="/store", volumes=on_volume
            )

        with server() as (first, _):
            made = inspect(first.container, "/store/mlflow.db", create="kept", read="kept")["made"]
        with server() as (second, _):
            held = inspect(second.container, "/store/mlflow.db", read="kept")
    assert made is not None and held["found"] == made
