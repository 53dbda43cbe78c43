"""The example notebooks run top to bottom on a fresh store."""

from __future__ import annotations

import contextlib
import socket
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("PIQ_DATA_DIR", str(tmp_path / "piq"))
    monkeypatch.delenv("PIQ_DATABASE_URL", raising=False)
    # A kernel of no server: the client runs the engine in the kernel.
    for name in ("PIQ_SERVER_URL", "PIQ_SERVER_TOKEN", "JUPYTERHUB_SERVICE_URL"):
        monkeypatch.delenv(name, raising=False)
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
