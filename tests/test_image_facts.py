"""Facts about an image come from the image: its base by layers, what every layer ships, the
packages its files say are installed; and an image the engine refuses to start is the learner's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from graders.containers.cleanup import labelled, remove_run_resources, run_labels
from graders.containers.dockerfile import base_images, instructions
from graders.containers.images import STAND_IN_BASE, build_image, ensure_image
from graders.containers.layers import ImageContents, added_bytes, base_of, read_image
from graders.containers.running import ContainerSpec
from graders.containers.services import running_service
from graders.errors import EnvironmentProblem, LearnerFailure

HIDDEN_FROM = """\
# escape=\\
FROM python:3.11-slim AS build
RUN echo \\
    FROM scratch
# FROM commented:1
RUN <<EOF
FROM in-a-heredoc:1
EOF
FROM build
FROM \\
  # a comment inside the instruction
  debian:bookworm-slim
"""


def test_a_from_inside_a_continued_run_line_a_comment_or_a_heredoc_is_no_base() -> None:
    assert base_images(HIDDEN_FROM) == ["python:3.11-slim", "debian:bookworm-slim"]
    assert "RUN echo  FROM scratch" in instructions(HIDDEN_FROM)


# A base stand-in and a layer that plants a file a later layer deletes; a fake distribution.
PLANTED = f"""\
FROM {STAND_IN_BASE}
COPY planted.txt /app/planted.txt
ARG FAKE=/usr/local/lib/python3.11/site-packages/Fake_Pkg-1.0.dist-info
ARG SITE=/usr/local/lib/python3.11/site-packages
RUN rm /app/planted.txt && mkdir -p $FAKE \\
    && printf 'Metadata-Version: 2.1\\nName: Fake_Pkg\\nVersion: 1.0\\n\\nbody\\n' \\
    > $FAKE/METADATA \\
    && for v in 1.0 2.0; do mkdir $SITE/Gone_Pkg-$v.dist-info $SITE/Hidden_Pkg-$v.dist-info \\
    && printf "Name: Gone_Pkg\\nVersion: $v\\n" > $SITE/Gone_Pkg-$v.dist-info/METADATA \\
    && printf "Name: Hidden_Pkg\\nVersion: $v\\n" > $SITE/Hidden_Pkg-$v.dist-info/METADATA; done
# a later layer uninstalls one version of each: a whiteout, and a folder emptied and made again
RUN rm -r $SITE/Gone_Pkg-1.0.dist-info && rm -r $SITE/Hidden_Pkg-1.0.dist-info \\
    && mkdir $SITE/Hidden_Pkg-1.0.dist-info
RUN echo \\
    FROM mlops-labs-test/no-such-base:1
"""


@pytest.fixture(scope="module")
def run_id(docker_engine: docker.DockerClient) -> Iterator[str]:
    rid = "test-" + uuid.uuid4().hex[:8]
    try:
        yield rid
    finally:
        remove_run_resources(docker_engine, rid)
        assert labelled(docker_engine, rid) == [], "the test left Docker objects behind"


def built(
    folder: Path, tag: str, dockerfile: str, run_id: str, files: dict[str, str] | None = None
) -> str:
    """``dockerfile`` (and ``files``: name -> text) built as ``tag`` with the run's labels."""
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    done = build_image(folder, tag, run_labels(run_id))
    assert done.ok, done.log_tail()
    return tag


@pytest.fixture(scope="module")
def images(
    docker_engine: docker.DockerClient, run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    ensure_image(docker_engine, STAND_IN_BASE)
    root = tmp_path_factory.mktemp("images")
    planted = built(
        root / "planted",
        f"mlops-labs-test/planted:{run_id}",
        PLANTED,
        run_id,
        {"planted.txt": "planted bytes\n"},
    )
    child = built(
        root / "child",
        f"mlops-labs-test/child:{run_id}",
        f"FROM {planted}\nRUN touch /child\n",
        run_id,
    )
    sibling = built(
        root / "sibling",
        f"mlops-labs-test/sibling:{run_id}",
        f"FROM {STAND_IN_BASE}\nRUN touch /sibling\n",
        run_id,
    )
    no_command = built(
        root / "no-command",
        f"mlops-labs-test/no-command:{run_id}",
        f"FROM {STAND_IN_BASE}\nENTRYPOINT []\n",
        run_id,
    )
    no_program = built(
        root / "no-program",
        f"mlops-labs-test/no-program:{run_id}",
        f'FROM {STAND_IN_BASE}\nENTRYPOINT ["/app/serve"]\n',
        run_id,
    )
    no_user = built(
        root / "no-user",
        f"mlops-labs-test/no-user:{run_id}",
        f'FROM {STAND_IN_BASE}\nUSER nosuchuser\nCMD ["python", "-V"]\n',
        run_id,
    )
    yield {
        "planted": planted,
        "child": child,
        "sibling": sibling,
        "no-command": no_command,
        "no-program": no_program,
        "no-user": no_user,
    }
    # the image built on another first, with its untagged layers: then its base can go too
    docker_engine.images.remove(child, force=True)


@pytest.mark.docker
def test_the_base_is_the_local_image_whose_layers_start_the_images_own(
    docker_engine: docker.DockerClient, images: dict[str, str]
) -> None:
    base = base_of(
        docker_engine,
        images["planted"],
        ["mlops-labs-test/no-such-base:1", images["sibling"], "scratch", STAND_IN_BASE],
    )
    assert base.name == STAND_IN_BASE  # the sibling shares the base, but is no prefix
    size = int(docker_engine.images.get(images["planted"]).attrs["Size"])
    assert 0 <= added_bytes(docker_engine, images["planted"], base) < size
    longest = base_of(docker_engine, images["child"], [STAND_IN_BASE, images["planted"]])
    assert longest.name == images["planted"]  # the longest prefix wins
    nothing = base_of(docker_engine, images["planted"], [images["sibling"], "no-such:1"])
    assert (nothing.name, added_bytes(docker_engine, images["planted"], nothing)) == ("", size)


@pytest.fixture(scope="module")
def planted(docker_engine: docker.DockerClient, images: dict[str, str]) -> ImageContents:
    """The planted image, read once."""
    return read_image(docker_engine, images["planted"])


@pytest.mark.docker
def test_a_file_a_later_layer_deletes_is_still_shipped(
    docker_engine: docker.DockerClient,
    images: dict[str, str],
    planted: ImageContents,
    run_id: str,
) -> None:
    final = docker_engine.containers.run(
        images["planted"],
        ["ls", "/app"],
        remove=True,
        network_mode="none",
        labels=run_labels(run_id),
    )
    assert b"planted.txt" not in final  # deleted from the final filesystem…
    shipped = planted.shipped
    assert "/app/planted.txt" in shipped  # …but its layer still holds it
    assert "/usr/local/bin/python3" in shipped or "/usr/bin/python3" in shipped
    assert not [path for path in shipped if "/.wh." in path]


@pytest.mark.docker
def test_installed_versions_are_read_from_the_images_metadata_files(
    planted: ImageContents,
) -> None:
    installed = planted.distributions
    assert installed["fake-pkg"] == {"1.0"}
    assert "pip" in installed
    # what a later layer deleted is not installed, though its layer still ships it
    assert installed["gone-pkg"] == {"2.0"} and installed["hidden-pkg"] == {"2.0"}
    gone = "/usr/local/lib/python3.11/site-packages/Gone_Pkg-1.0.dist-info/METADATA"
    assert gone in planted.shipped


@pytest.mark.docker
@pytest.mark.parametrize(
    ("image", "says"),
    [
        ("no-command", "give the image a command"),
        ("no-program", "names a program the image does not have"),
        ("no-user", "USER names a user the image does not have"),
    ],
)
def test_an_image_the_engine_refuses_to_start_is_the_blamed_partys_failure(
    docker_engine: docker.DockerClient, images: dict[str, str], run_id: str, image: str, says: str
) -> None:
    spec = ContainerSpec(images[image], run_id, "refused")
    for blame in (LearnerFailure, EnvironmentProblem):
        with pytest.raises(blame) as raised:
            with running_service(
                docker_engine,
                spec,
                ready=lambda c: True,
                timeout=5,
                blame=blame,
                what="the container",
                fix="see the lab",
            ):
                pass
        assert "could not start: the engine refused it" in str(raised.value)
        assert says in str(raised.value)
    containers = [o for o in labelled(docker_engine, run_id) if "refused" in str(o)]
    assert containers == [], "a refused container was left behind"


@pytest.mark.docker
def test_an_engine_error_that_is_not_about_the_image_stays_an_engine_error(
    docker_engine: docker.DockerClient, images: dict[str, str], run_id: str
) -> None:
    spec = ContainerSpec(images["sibling"], run_id, "no-network", network="mlops-labs-no-such-net")
    with pytest.raises(docker.errors.APIError) as raised:
        with running_service(
            docker_engine, spec, ready=lambda c: True, timeout=5, blame=LearnerFailure
        ):
            pass
    assert raised.value.status_code == 404


@pytest.mark.docker
def test_the_offline_stand_in_has_python_where_the_real_slim_image_has_it(
    docker_engine: docker.DockerClient,
) -> None:
    ensure_image(docker_engine, STAND_IN_BASE)
    labels = docker_engine.images.get(STAND_IN_BASE).labels or {}
    if "org.mlops-labs.stand-in" not in labels:
        pytest.skip("python:3.11-slim here is the real image, not the offline stand-in")
    found = docker_engine.containers.run(
        STAND_IN_BASE,
        ["sh", "-c", "for n in python python3 python3.11 pip pip3; do command -v $n; done"],
        remove=True,
    ).decode()
    assert found.split() == [
        f"/usr/local/bin/{name}" for name in ("python", "python3", "python3.11", "pip", "pip3")
    ]
