"""What the tests import is declared: every third-party module imported under
``tests/`` (by an import statement or ``pytest.importorskip``, in the test modules
and in the stand-in programs) comes from a distribution that the ``test`` extra
names, itself or through the project's requirements and the extras it asks for."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
PROJECT = canonicalize_name("proteiniq-jupyter")
FIRST_PARTY = frozenset({"proteiniq_jupyter", "tests"})


def python_sources(root: Path) -> Iterator[Path]:
    """Modules, and programs whose first line runs Python."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if path.suffix == ".py":
            yield path
        elif not path.suffix:
            with path.open("rb") as handle:
                first = handle.readline()
            if first.startswith(b"#!") and b"python" in first:
                yield path


def imported(source: str) -> set[str]:
    """The top-level names of the modules a source imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "importorskip"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.partition(".")[0])
    return names


def declared_by_test_extra() -> set[NormalizedName]:
    """Distributions the ``test`` extra installs by name: its own requirements, the
    project's, those of the project's extras it asks for, and those that the
    extras it asks of other distributions add to them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    names: set[NormalizedName] = set()
    seen: set[str] = set()

    def add(requirements: Iterable[str]) -> None:
        for requirement in map(Requirement, requirements):
            name = canonicalize_name(requirement.name)
            if name == PROJECT:
                for extra in requirement.extras - seen:
                    seen.add(extra)
                    add(extras[extra])
                continue
            names.add(name)
            for extra in requirement.extras:
                names.update(added_by_extra(name, extra))

    add([*project["dependencies"], *extras["test"]])
    return names


def added_by_extra(distribution: str, extra: str) -> set[NormalizedName]:
    requires = importlib.metadata.distribution(distribution).requires or []
    return {
        canonicalize_name(requirement.name)
        for requirement in map(Requirement, requires)
        if requirement.marker is not None and requirement.marker.evaluate({"extra": extra})
    }


def test_every_third_party_import_under_tests_is_in_the_test_extra() -> None:
    sources = list(python_sources(TESTS))
    assert TESTS / "conftest.py" in sources
    assert TESTS / "tools" / "standins" / "boltz" in sources
    declared = declared_by_test_extra()
    providers = importlib.metadata.packages_distributions()
    problems: list[str] = []
    for path in sources:
        for module in sorted(imported(path.read_text())):
            if module in sys.stdlib_module_names or module in FIRST_PARTY:
                continue
            where = path.relative_to(REPO)
            found = providers.get(module)
            if not found:
                problems.append(f"{where}: {module} is installed by no distribution here")
            elif not {canonicalize_name(d) for d in found} & declared:
                problems.append(f"{where}: {module} (from {', '.join(found)}) is not declared")
    assert not problems, "\n".join(problems)


def test_the_check_sees_each_kind_of_import() -> None:
    source = "import a.b\nfrom c.d import e\nfrom . import f\nimport pytest\n"
    source += "pytest.importorskip('g.h')\n"
    assert imported(source) == {"a", "c", "pytest", "g"}
    declared = declared_by_test_extra()
    assert {"pyyaml", "distributed", "psycopg", "pytest"} <= declared  # one of each way
