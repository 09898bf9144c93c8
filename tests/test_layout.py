"""The layout of the graders is tested: one package per lab, fixed roles, and who imports whom.

Every rule reads the source (AST), not a running grader, so this file needs no Docker. The
criterion order of ``checks.py`` is held by ``test_catalogue.py`` (its checks equal the README's
criteria, in order); here ``checks.py`` holds nothing but those checks, constants and private
helpers, so that nothing in it escapes that test.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders.catalogue import SERVICES, Lab, discover_labs
from graders.requirements import read_pins

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "graders"
LABS_PACKAGE = LIBRARY / "labs"
SHARED = "_shared"
RUNNER_IMAGE = REPO / "infra" / "images" / "runner"
LABS = discover_labs()
# distributions of the runner image whose import name is not their name
IMPORT_NAMES = {"scikit-learn": "sklearn", "pyyaml": "yaml", "python-dateutil": "dateutil"}
# the probe command line, staged beside every probe in the sandbox
SANDBOX_SIBLINGS = {"probe_cli"}
SANDBOX_MODULES = ("probe.py", "probe_cli.py")
LOW_LEVEL_CALLS = {
    "start_container",
    "submission_workspace",
    "open_workspace",
    "wait_while_running",
    "TemporaryDirectory",
}


def package_for(lab: Lab) -> str:
    """The grader package a lab's slug names: ``NN-`` dropped, ``-`` turned into ``_``."""
    return lab.slug.split("-", 1)[1].replace("-", "_")


def lab_packages() -> list[Path]:
    """The folders of ``graders/labs/`` that are lab packages (``_shared`` is not)."""
    return sorted(
        path
        for path in LABS_PACKAGE.iterdir()
        if path.is_dir() and path.name not in (SHARED, "__pycache__")
    )


def modules_of(folder: Path) -> list[Path]:
    """Every Python module under ``folder``."""
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def imported_modules(path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports (``from a import b`` gives ``a.b`` as well as ``a``), with its
    line; relative imports resolved against the module's package."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def runner_image_modules() -> set[str]:
    """The top-level modules the runner image can import: its pinned distributions."""
    pins, _ = read_pins((RUNNER_IMAGE / "constraints.txt").read_text(encoding="utf-8"))
    return {IMPORT_NAMES.get(name, name.replace("-", "_")) for name in pins}


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO)}:{line}"


def test_the_library_has_lab_packages() -> None:
    assert LABS and lab_packages()


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_lab_toml_names_the_package_its_slug_names(lab: Lab) -> None:
    assert lab.grader == f"graders.labs.{package_for(lab)}"


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_lab_has_a_raw_side_in_the_grade_vs_raw_benchmark(lab: Lab) -> None:
    """``bench/grade_vs_raw.py`` compares each lab's grading with its raw commands
    (docs/authoring.md, the time budget): ``bench/raw/<package>.py`` says them, for this lab."""
    raw = REPO / "bench" / "raw" / f"{package_for(lab)}.py"
    assert raw.is_file(), f"{raw.relative_to(REPO)} is missing"
    tree = ast.parse(raw.read_text(encoding="utf-8"))
    assigned = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    lab_id = assigned.get("LAB")
    assert isinstance(lab_id, ast.Constant) and lab_id.value == lab.id
    assert any(isinstance(n, ast.FunctionDef) and n.name == "run" for n in tree.body)


def test_every_lab_package_belongs_to_exactly_one_lab() -> None:
    graders = [lab.grader for lab in LABS]
    assert len(set(graders)) == len(graders), "two labs name the same grader package"
    assert sorted(f"graders.labs.{path.name}" for path in lab_packages()) == sorted(graders)


def test_the_labs_folder_holds_only_packages() -> None:
    loose = [path.name for path in LABS_PACKAGE.glob("*.py") if path.name != "__init__.py"]
    assert loose == [], "a lab's modules live in its package, graders/labs/<package>/"


@pytest.mark.parametrize("package", lab_packages(), ids=lambda path: path.name)
def test_lab_package_has_checks_and_fixtures(package: Path) -> None:
    roles = ("__init__.py", "checks.py", "fixtures.py")
    assert [role for role in roles if not (package / role).is_file()] == []


@pytest.mark.parametrize("package", lab_packages(), ids=lambda path: path.name)
def test_checks_module_holds_only_checks_constants_and_private_helpers(package: Path) -> None:
    path = package / "checks.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    strays = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom) or _is_docstring(node):
            continue
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            continue
        if isinstance(node, ast.FunctionDef):
            if node.name.startswith("_") or (node.name.startswith("test_") and _is_check(node)):
                continue
            strays.append(f"{where(path, node.lineno)} function {node.name}")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if len(names) != len(targets) or not all(_constant_name(n) for n in names):
                strays.append(f"{where(path, node.lineno)} {ast.unparse(node)[:60]}")
        elif isinstance(node, ast.ClassDef) and node.name.startswith("_"):
            continue
        else:
            strays.append(f"{where(path, node.lineno)} {type(node).__name__} {_name(node)}")
    assert not strays, "checks.py holds only @check functions, constants and private helpers:\n" + (
        "\n".join(strays)
    )


@pytest.mark.parametrize(
    "path",
    sorted(path for name in SANDBOX_MODULES for path in LIBRARY.rglob(name)),
    ids=lambda path: str(path.relative_to(REPO)),
)
def test_sandbox_module_imports_only_the_standard_library_and_runner_image(path: Path) -> None:
    allowed = set(sys.stdlib_module_names) | runner_image_modules() | SANDBOX_SIBLINGS
    foreign = sorted(
        {
            f"{name} ({where(path, line)})"
            for name, line in imported_modules(path)
            if name and name.split(".")[0] not in allowed
        }
    )
    assert foreign == [], "a probe runs in the sandbox: standard library and runner image only"


@pytest.mark.parametrize("package", lab_packages(), ids=lambda path: path.name)
def test_lab_imports_only_the_library_and_shared_never_another_lab(package: Path) -> None:
    own = f"graders.labs.{package.name}"
    others = [
        f"{name} ({where(path, line)})"
        for path in modules_of(package)
        for name, line in imported_modules(path)
        if _lab_module(name)
        and not _within(name, own)
        and not _within(name, "graders.labs._shared")
    ]
    assert others == []


def test_every_shared_module_is_used_by_two_labs_or_more() -> None:
    shared = [p for p in (LABS_PACKAGE / SHARED).glob("*.py") if p.name != "__init__.py"]
    for module in shared:
        name = f"graders.labs.{SHARED}.{module.stem}"
        users = {
            package.name
            for package in lab_packages()
            for path in modules_of(package)
            if any(_within(found, name) for found, _ in imported_modules(path))
        }
        assert len(users) >= 2, f"{name} is used by {sorted(users) or 'no lab'}: move it there"


def test_the_library_never_imports_a_lab() -> None:
    library = [p for p in modules_of(LIBRARY) if LABS_PACKAGE not in p.parents]
    found = [
        f"{name} ({where(path, line)})"
        for path in library
        for name, line in imported_modules(path)
        if _within(name, "graders.labs")
    ]
    assert found == []


def test_no_lab_calls_the_container_layers_low_level_functions() -> None:
    """On the host, that is: a probe runs in the sandbox, where the kit is not."""
    host_side = [p for p in modules_of(LABS_PACKAGE) if p.name not in SANDBOX_MODULES]
    calls = [
        f"{where(path, node.lineno)} {_called(node)}("
        for path in host_side
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and _called(node) in LOW_LEVEL_CALLS
    ]
    assert not calls, "labs use the grading kit (graders.fixtures.scenario), not:\n" + "\n".join(
        calls
    )


@pytest.mark.parametrize("package", lab_packages(), ids=lambda path: path.name)
def test_no_module_of_a_lab_carries_the_labs_prefix(package: Path) -> None:
    prefixes = (package.name, package.name.split("_")[0] + "_")
    prefixed = [p.name for p in modules_of(package) if p.stem.startswith(prefixes)]
    assert prefixed == [], "name a module for its role or a domain noun (policy.py, crontab.py)"


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_lab_declares_exactly_the_services_its_grader_uses(lab: Lab) -> None:
    """``[requires] services`` selects the fixture modules the plugin loads for the lab: a lab
    whose grader imports ``graders.fixtures.<service>`` or takes one of its fixtures declares it,
    and a lab declares no service its grader does not use."""
    package = LABS_PACKAGE / package_for(lab)
    fixtures = {service: _fixture_names(service) for service in SERVICES}
    used = set()
    for path in modules_of(package):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        taken = {
            arg.arg
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef)
            for arg in node.args.args
        }
        imported = {name for name, _ in imported_modules(path)}
        for service, names in fixtures.items():
            if taken & names or any(_within(n, f"graders.fixtures.{service}") for n in imported):
                used.add(service)
    assert sorted(lab.requires.services) == sorted(used)


def _fixture_names(service: str) -> set[str]:
    """The fixtures ``graders.fixtures.<service>`` defines (its decorated functions)."""
    path = LIBRARY / "fixtures" / f"{service}.py"
    return {
        node.name
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef)
        and any("fixture" in ast.unparse(d) for d in node.decorator_list)
    }


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _is_check(node: ast.FunctionDef) -> bool:
    return any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "check"
        for d in node.decorator_list
    )


def _constant_name(name: str) -> bool:
    return name.startswith("_") or name.isupper()


def _name(node: ast.stmt) -> str:
    return str(getattr(node, "name", ""))


def _called(node: ast.Call) -> str:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return ""


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _lab_module(name: str) -> bool:
    return _within(name, "graders.labs") and name != "graders.labs"
