"""The probes' shared command line (``probe_cli``) and the kit that stages it beside each probe."""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from graders.catalogue import discover_labs
from graders.containers import probe_cli
from graders.containers.probe_cli import parse_arguments, serve
from graders.fixtures.scenario import PROBE_CLI_NAME, PROBE_NAME, copy_probe

LABS = Path(__file__).resolve().parents[1] / "graders" / "labs"
# ha_inference_on_kind's probe is a traffic script read as text into a pod, not run with serve
SERVED_PROBES = sorted(
    path for path in LABS.glob("*/probe.py") if path.parent.name != "ha_inference_on_kind"
)


def watch(
    project: Path,
    *,
    holdout: Path,
    batch: Sequence[Path] = (),
    kill_after: float | None = None,
    kill_on_model_write: bool = False,
) -> dict[str, object]:
    return {
        "project": project,
        "holdout": holdout,
        "batch": list(batch),
        "kill_after": kill_after,
        "kill_on_model_write": kill_on_model_write,
    }


def run_after(db: str, hold: float, *command: str) -> tuple[str, float, tuple[str, ...]]:
    return db, hold, command


def test_options_are_converted_by_their_annotations_and_repeated_ones_collected() -> None:
    args, kwargs = parse_arguments(
        watch, ["/p", "--holdout=/h.csv", "--batch=/a", "--batch=/b", "--kill-after=1.5"]
    )
    assert watch(*args, **kwargs) == {
        "project": Path("/p"),
        "holdout": Path("/h.csv"),
        "batch": [Path("/a"), Path("/b")],
        "kill_after": 1.5,
        "kill_on_model_write": False,
    }
    _, flags = parse_arguments(watch, ["/p", "--holdout=/h", "--kill-on-model-write"])
    assert flags["kill_on_model_write"] is True


def test_everything_after_a_double_dash_is_passed_on_as_it_is() -> None:
    args, kwargs = parse_arguments(run_after, ["x.db", "3", "--", "bash", "-c", "a --keep 2"])
    assert run_after(*args, **kwargs) == ("x.db", 3.0, ("bash", "-c", "a --keep 2"))


@pytest.mark.parametrize(
    "words, said",
    [
        (["/p", "--holdout=/h", "--colour=red"], "takes no option --colour"),
        (["/p", "/q", "--holdout=/h"], "takes no more arguments"),
        (["--holdout=/h"], "needs PROJECT"),
    ],
)
def test_a_wrong_command_line_stops_the_probe_with_what_is_wrong(
    words: list[str], said: str
) -> None:
    with pytest.raises(SystemExit, match=said):
        parse_arguments(watch, words)


def test_serve_prints_the_result_as_json_on_the_last_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    serve({"after": run_after}, ["after", "x.db", "2", "--", "true"], sort_keys=True)
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == ["x.db", 2.0, ["true"]]
    with pytest.raises(SystemExit, match="usage: probe.py {after}"):
        serve({"after": run_after}, ["before"])


@pytest.mark.parametrize("probe", SERVED_PROBES, ids=lambda path: path.parent.name)
def test_every_probe_serves_its_commands_and_never_imports_the_grader(probe: Path) -> None:
    tree = ast.parse(probe.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "graders" not in imported and "argparse" not in imported
    assert "probe_cli" in imported, f"{probe} does not end with probe_cli.serve"
    assert "sys.argv" not in probe.read_text(encoding="utf-8")


def test_the_kit_stages_every_served_probe_with_probe_cli_beside_it(tmp_path: Path) -> None:
    for lab in discover_labs():
        if not (LABS / lab.grader.rsplit(".", 1)[-1] / PROBE_NAME).is_file():
            continue
        folder = tmp_path / lab.grader
        folder.mkdir()
        copy_probe(lab.grader, folder)
        assert sorted(p.name for p in folder.iterdir()) == sorted([PROBE_CLI_NAME, PROBE_NAME])
        assert (folder / PROBE_CLI_NAME).read_bytes() == Path(probe_cli.__file__).read_bytes()


def test_the_probes_parse_the_command_lines_their_fixtures_send() -> None:
    from graders.labs.disaster_recovery import probe as recovery
    from graders.labs.model_registry import probe as registry
    from graders.labs.retraining_pipeline import probe as retraining

    _, options = parse_arguments(
        retraining.run,
        ["/work/p", "--holdout=/grader/h.csv", "--timeout=240", "--kill-after=0.700",
         "--batch=/grader/batches/a.csv"],
    )  # fmt: skip
    assert options == {
        "holdout": Path("/grader/h.csv"),
        "timeout": 240.0,
        "kill_after": 0.7,
        "batch": [Path("/grader/batches/a.csv")],
    }
    args, _ = parse_arguments(recovery.under_writes, ["/d/db", "3.0", "--", "bash", "-c", "x"])
    assert args == ["/d/db", 3.0, "bash", "-c", "x"]
    assert parse_arguments(registry.connections, ["2", "90"]) == ([2, 90.0], {})
