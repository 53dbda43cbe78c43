"""One JupyterLab per test module (the ``proteiniq`` extension on a fresh SQLite
store, a workspace with credits, the tiny ESMFold model the tools' tests build),
one chromium page open on one notebook in it, whose kernel every test of the
module shares: tests add cells and run them, never re-run one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from proteiniq_jupyter.store.database import sqlite_url
from proteiniq_jupyter.store.sql_store import SqlStore

from ..conftest import FIXTURES, PASSED
from ..stack import Stack, stop_stack
from ..tools.tiny_esmfold import build_tiny_esmfold
from .chromium import ARTIFACTS, AXE, NEEDS_CHROMIUM, Visit, launch
from .lab import LabNotebook, slug, start_lab

#: Credits of the test workspace: enough for every job a module runs.
CREDITS = 1_000_000
#: Data files the notebooks read, copied beside them (sources in tests/data/README.md).
DATA_FILES = ("docking/BACE_1_receptorH.pdb", "docking/BACE_1_ligand.mol2")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(NEEDS_CHROMIUM)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_esmfold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight ESMFold, saved where ``PIQ_ESMFOLD_MODEL`` points."""
    return build_tiny_esmfold(tmp_path_factory.mktemp("tiny-esmfold"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, tiny_esmfold: Path) -> Iterator[Stack]:
    assert AXE.is_file(), f"{AXE} is missing: run `npm ci` (make install does)"
    root = tmp_path_factory.mktemp("lab")
    data = root / "notebooks" / "data"
    data.mkdir(parents=True)
    for name in DATA_FILES:
        shutil.copy(FIXTURES / name, data / Path(name).name)
    stack = start_lab(
        root,
        {
            "PIQ_STARTING_CREDITS": str(CREDITS),
            "PIQ_USER": "ada",
            "PIQ_EMAIL": "ada@lab.example",
            "PIQ_ESMFOLD_MODEL": str(tiny_esmfold),
        },
    )
    try:
        yield stack
    finally:
        stop_stack(stack)


@pytest.fixture(scope="module")
def store(lab: Stack) -> Iterator[SqlStore]:
    """The lab's own store, read directly."""
    store = SqlStore.open(sqlite_url(lab.root / "piq" / "piq.sqlite"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Visit]:
    with launch() as seen:
        yield seen


@pytest.fixture(scope="module")
def notebook(browser: Visit, lab: Stack, request: pytest.FixtureRequest) -> LabNotebook:
    """A notebook named for the module, open in the page, the magics loaded and
    the package imported as ``piq``."""
    book = LabNotebook(browser, lab, f"{request.module.__name__.rpartition('.')[2]}.ipynb")
    book.open()
    book.run("load", "%load_ext proteiniq_jupyter\nimport proteiniq_jupyter as piq")
    return book


@pytest.fixture(autouse=True)
def nothing_leaves_the_machine(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test fails if its page tried to reach anything but 127.0.0.1; a test
    that failed leaves a picture of the whole page in tests/artifacts."""
    yield
    if "browser" in request.fixturenames:
        seen: Visit = request.getfixturevalue("browser")
        if not request.node.stash.get(PASSED, True):
            ARTIFACTS.mkdir(exist_ok=True)
            seen.page.screenshot(path=str(ARTIFACTS / f"failed-{slug(request.node.name)}.png"))
        outside, seen.outside[:] = list(seen.outside), []
        assert outside == [], f"the page tried to reach other hosts: {outside}"
