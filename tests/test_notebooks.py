"""The example notebooks run top to bottom on a fresh store."""

from __future__ import annotations

import contextlib
import shutil
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs():
    """Outputs and execution counts stay out of git: a notebook opens clean, and its
    diffs show only what a person wrote."""
    assert NOTEBOOKS
    run: list[str] = []
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        for number, cell in enumerate(notebook.cells, 1):
            if cell.cell_type != "code":
                continue
            if cell.get("outputs") or cell.get("execution_count") is not None:
                run.append(f"{path.name} cell {number}")
    assert not run, "notebooks committed with outputs (clear them): " + ", ".join(run)


def cell_text(notebook, marker: str) -> str:
    """What the one code cell whose source holds ``marker`` showed, as text and HTML."""
    cells = [c for c in notebook.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"{len(cells)} cells hold {marker!r}"
    parts = []
    for output in cells[0].outputs:
        parts.append(str(output.get("text", "")))
        data = output.get("data", {})
        parts += [str(data.get("text/plain", "")), str(data.get("text/html", ""))]
    return "\n".join(parts)


def printed(text: str, start: str) -> bool:
    """Whether a line of ``text`` starts with ``start`` (a status a cell printed)."""
    return any(line.startswith(start) for line in text.splitlines())


def completed(data_dir: Path, tool: str) -> int:
    """How many of ``tool``'s jobs the notebook's store holds as COMPLETED."""
    with contextlib.closing(sqlite3.connect(data_dir / "piq.sqlite")) as db:
        query = "SELECT count(*) FROM jobs WHERE tool = ? AND status = 'COMPLETED'"
        return int(db.execute(query, (tool,)).fetchone()[0])


def check_quickstart(notebook, data_dir: Path) -> None:
    stats = cell_text(notebook, "%piq run protein-stats")
    assert printed(stats, "COMPLETED")
    for column in ("length", "molecular_weight", "isoelectric_point"):
        assert column in stats
    table = cell_text(notebook, "piq.jobs(")
    assert "first protein" in table and "protein-stats" in table
    assert printed(cell_text(notebook, "%piq run esmfold"), "COMPLETED")
    assert "22 residues, mean pLDDT" in cell_text(notebook, "fold.structure()")
    assert printed(cell_text(notebook, 'share("public")'), "public")
    assert completed(data_dir, "protein-stats") == 1 and completed(data_dir, "esmfold") == 1


def check_docking(notebook, data_dir: Path) -> None:
    single = cell_text(notebook, "mode=")
    assert printed(single, "COMPLETED")
    table = cell_text(notebook, "affinities =")
    for column in ("ligand", "status", "best_affinity_kcal_mol", "poses"):
        assert column in table
    assert table.count("COMPLETED") >= 3  # the batch's ligands, each docked
    assert completed(data_dir, "autodock-vina") == 4  # one alone, three in the batch


def check_history(notebook, data_dir: Path) -> None:
    assert printed(cell_text(notebook, "ubiquitin = piq.run("), "COMPLETED COMPLETED COMPLETED")
    filtered = cell_text(notebook, 'piq.jobs(tool="protein-stats"')
    assert "ubiquitin" in filtered and "insulin A" in filtered and "aspirin" not in filtered
    compared = cell_text(notebook, "aspirin.diff(")
    assert printed(compared, "COMPLETED") and "random_seed" in compared
    assert "ubiquitin" in cell_text(notebook, 'ubiquitin.export("csv")')
    history = cell_text(notebook, "history = ")
    for column in ("name", "tool", "status", "credits_charged"):
        assert column in history
    assert "aspirin, seed 42" in history and "aspirin, seed 7" in history  # renamed, duplicated
    shared = cell_text(notebook, 'share("invited"')
    assert printed(shared, "invited") and "colleague@lab.example" in shared
    assert completed(data_dir, "smiles-to-sdf") == 2


#: What each notebook must produce, beyond running without an error.
CHECKS: dict[str, Callable[..., None]] = {
    "01-quickstart.ipynb": check_quickstart,
    "02-docking.ipynb": check_docking,
    "04-history-and-sharing.ipynb": check_history,
}


def test_every_notebook_has_its_checks():
    assert sorted(CHECKS) == [p.name for p in NOTEBOOKS]


@pytest.fixture(scope="module")
def tiny_esmfold(tmp_path_factory) -> Path:
    """The tiny random-weight ESMFold the tool tests fold with, where the real weights
    would be: what a worker with ESMFold installed reads."""
    from tests.tools.tiny_esmfold import build_tiny_esmfold

    return build_tiny_esmfold(tmp_path_factory.mktemp("esmfold"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch, tiny_esmfold):
    monkeypatch.setenv("PIQ_DATA_DIR", str(tmp_path / "piq"))
    monkeypatch.setenv("PIQ_ESMFOLD_MODEL", str(tiny_esmfold))
    monkeypatch.delenv("PIQ_DATABASE_URL", raising=False)
    # A kernel of no server: the client runs the engine in the kernel.
    for name in ("PIQ_SERVER_URL", "PIQ_SERVER_TOKEN", "JUPYTERHUB_SERVICE_URL"):
        monkeypatch.delenv(name, raising=False)
    # The kernel starts where the notebook's data is, as JupyterLab starts it beside it.
    shutil.copytree(path.parent / "data", tmp_path / "data")
    notebook = nbformat.read(path, as_version=4)
    with socket.socket() as taken:  # Dask's default port, held as another cluster would
        with contextlib.suppress(OSError):  # held by someone else already: as good
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
        ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(str(o.get("text") or o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "COMPLETED" in text
    # Quiet by default: no warning about Dask's port, no traceback from its closing.
    assert "8787" not in text and "already in use" not in text
    assert "Traceback" not in text and "CRITICAL" not in text
    assert (tmp_path / "piq" / "piq.sqlite").is_file()
    nbformat.write(notebook, tmp_path / path.name)  # what it showed, for a failure
    CHECKS[path.name](notebook, tmp_path / "piq")
