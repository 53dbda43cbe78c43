"""The example notebooks run top to bottom, each in a kernel that a real Jupyter
server with the extension started for it (as JupyterLab asks for one), so the
client finds that server as a user's kernel does. One server serves every notebook
of the module, on the embedded Dask cluster, with a fresh store. Each executed
notebook is rendered to HTML and photographed in chromium (tests/artifacts/)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from .browser.chromium import ARTIFACTS, CHROMIUM, launch
from .stack import Stack, start_stack, stop_stack

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: Imports of the package's modules, which a notebook leaves to the client.
INTERNAL_IMPORTS = ("from proteiniq_jupyter.", "import proteiniq_jupyter.")
#: How long one cell may run on a busy two-core machine.
CELL_TIMEOUT_S = 300


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


def test_every_notebook_says_what_it_shows_costs_and_where_to_go_next():
    """A reader learns first what a notebook shows and what it costs, and last where
    to go next; the notebooks teach the client and the magics, not internal code."""
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        first, last = notebook.cells[0], notebook.cells[-1]
        assert first.cell_type == "markdown" and last.cell_type == "markdown", path.name
        assert "What this shows:" in first.source and "What it costs:" in first.source, path.name
        assert last.source.startswith("## Where to go next"), path.name
        code = [c.source for c in notebook.cells if c.cell_type == "code"]
        internal = [
            line
            for source in code
            for line in source.splitlines()
            if line.lstrip().startswith(INTERNAL_IMPORTS)
        ]
        assert not internal, f"{path.name} imports internal modules: {internal}"


# -- what each notebook must produce -------------------------------------------


def cell_text(notebook: Any, marker: str) -> str:
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


def shows_widget(notebook: Any, marker: str, model: str) -> bool:
    """Whether the cell holding ``marker`` displayed a live widget of ``model``
    (the anywidget class a view is drawn by)."""
    cells = [c for c in notebook.cells if c.cell_type == "code" and marker in c.source]
    return any(
        model in str(output.get("data", {}).get("text/plain", ""))
        or "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        for cell in cells
        for output in cell.outputs
    )


def jobs(store: Path, tool: str, status: str = "COMPLETED") -> int:
    """How many of ``tool``'s jobs the server's store holds in ``status``."""
    with contextlib.closing(sqlite3.connect(store / "piq.sqlite")) as db:
        query = "SELECT count(*) FROM jobs WHERE tool = ? AND status = ?"
        return int(db.execute(query, (tool, status)).fetchone()[0])


def structure_files(store: Path, tool: str) -> list[Path]:
    """The PDB and mmCIF files of ``tool``'s completed jobs, in the store's folders."""
    with contextlib.closing(sqlite3.connect(store / "piq.sqlite")) as db:
        query = "SELECT id FROM jobs WHERE tool = ? AND status = 'COMPLETED'"
        ids = [row[0] for row in db.execute(query, (tool,))]
    return [
        path
        for job_id in ids
        for path in (store / "jobs" / job_id).glob("*")
        if path.suffix in (".pdb", ".cif")
    ]


def check_quickstart(notebook: Any, store: Path) -> None:
    stats = cell_text(notebook, "%piq run protein-stats")
    assert printed(stats, "COMPLETED")
    for column in ("length", "molecular_weight", "isoelectric_point"):
        assert column in stats
    table = cell_text(notebook, "piq.jobs(")
    assert "first protein" in table and "protein-stats" in table
    assert "http" in cell_text(notebook, "piq.connection()")  # found its server
    assert printed(cell_text(notebook, "%piq run esmfold"), "COMPLETED")
    assert "22 residues, mean pLDDT" in cell_text(notebook, "fold.structure()")
    assert shows_widget(notebook, "display(fold.view())", "StructureView")
    shared = cell_text(notebook, 'share("public")')
    assert printed(shared, "public") and "/proteiniq/public/jobs/" in shared
    assert jobs(store, "protein-stats") >= 1 and jobs(store, "esmfold") >= 1
    assert structure_files(store, "esmfold")


def check_docking(notebook: Any, store: Path) -> None:
    single = cell_text(notebook, "mode=")
    assert printed(single, "COMPLETED")
    table = cell_text(notebook, "affinities =")
    for column in ("ligand", "status", "best_affinity_kcal_mol", "poses"):
        assert column in table
    assert table.count("COMPLETED") >= 3  # the batch's ligands, each docked
    assert jobs(store, "autodock-vina") == 4  # one alone, three in the batch


def check_structure_prediction(notebook: Any, store: Path) -> None:
    catalogue = cell_text(notebook, "for tool_id in")
    assert "esmfold" in catalogue and "runs here: True" in catalogue
    # Boltz-2 and AlphaFold-2 cannot run here: the notebook says what they need
    assert "boltz-2" in catalogue and "runs here: False" in catalogue
    assert printed(cell_text(notebook, "fold = %piq run esmfold"), "COMPLETED")
    assert shows_widget(notebook, "display(fold.view())", "StructureView")
    assert "plddt" in cell_text(notebook, "display(fold.view())")
    batch = cell_text(notebook, 'piq.run_batch("esmfold"')
    assert printed(batch, "Trp-cage COMPLETED") and printed(batch, "chignolin COMPLETED")
    quoted = cell_text(notebook, 'piq.quote("boltz-2"')
    assert "credits" in quoted and "blocked here:" in quoted and "boltz" in quoted
    assert "nothing charged" in cell_text(notebook, 'piq.run("boltz-2"')
    # The magic's quote reads as ``piq quote`` prints it, not as a raw model dump.
    quoted = cell_text(notebook, "%piq quote alphafold-2")
    assert printed(quoted, "tool               alphafold-2"), quoted
    assert printed(quoted, "cannot run") and "JobQuote(" not in quoted
    assert "<th" in quoted and "Cannot run" in quoted
    assert jobs(store, "esmfold") >= 3 and len(structure_files(store, "esmfold")) >= 3
    assert jobs(store, "boltz-2", "PENDING") == 0  # refused before a job existed


def check_history(notebook: Any, store: Path) -> None:
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
    assert jobs(store, "smiles-to-sdf") == 2


def check_remote_gpu(notebook: Any, store: Path) -> None:
    cluster = cell_text(notebook, "dask.scheduler_info(")
    assert "gpu-worker-1" in cluster and "GPU: 1" in cluster
    assert "the job ran on" in cluster
    assert printed(cell_text(notebook, 'name="on the GPU worker"'), "COMPLETED")
    stopped = cell_text(notebook, ".terminate()")
    assert "stopped: [True, True, True]" in stopped
    # the job ran in the cluster's own store, not in this server's
    assert "on the GPU worker" not in names(store)


def names(store: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(store / "piq.sqlite")) as db:
        return [row[0] for row in db.execute("SELECT name FROM jobs")]


#: What each notebook must produce, beyond running without an error.
CHECKS: dict[str, Callable[[Any, Path], None]] = {
    "01-quickstart.ipynb": check_quickstart,
    "02-docking.ipynb": check_docking,
    "03-structure-prediction.ipynb": check_structure_prediction,
    "04-history-and-sharing.ipynb": check_history,
    "05-remote-gpu.ipynb": check_remote_gpu,
}


def test_every_notebook_has_its_checks():
    assert sorted(CHECKS) == [p.name for p in NOTEBOOKS]


# -- running them ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_esmfold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight ESMFold the tool tests fold with, where the real weights
    would be: what a worker with ESMFold installed reads."""
    from tests.tools.tiny_esmfold import build_tiny_esmfold

    return build_tiny_esmfold(tmp_path_factory.mktemp("esmfold"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_esmfold: Path) -> Iterator[Stack]:
    """A Jupyter server with the extension as a user runs it: jobs on the embedded
    Dask cluster, the installed tools only, the notebooks and their data in its
    root folder."""
    root = tmp_path_factory.mktemp("notebooks")
    shutil.copytree(NOTEBOOK_DIR / "data", root / "notebooks" / "data")
    stack = start_stack(
        root,
        extra_env={
            "PIQ_EXECUTOR": "dask",
            "PIQ_EXTRA_TOOLS": "",
            "PIQ_ESMFOLD_MODEL": str(tiny_esmfold),
        },
    )
    try:
        yield stack
    finally:
        stop_stack(stack)


class ServerKernel(AsyncKernelManager):
    """The kernel the server started for a notebook's session, reached through its
    connection file and owned by the server (``owns_kernel=False``): nbclient runs
    its cells and leaves its life to the server."""

    @property
    def has_kernel(self) -> bool:
        return True

    async def interrupt_kernel(self) -> None:  # type: ignore[override]
        """Nothing: a cell past its time fails the test, and deleting the session
        ends its kernel."""


def execute_in_server(stack: Stack, name: str) -> Any:
    """Run notebook ``name`` (copied into the server's root) in a kernel the server
    starts for it, as JupyterLab opening it does; the notebook with its outputs."""
    target = stack.root / "notebooks" / name
    shutil.copy(NOTEBOOK_DIR / name, target)
    notebook = nbformat.read(target, as_version=4)
    with stack.http() as http:
        reply = http.post(
            "api/sessions",
            json={"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}},
        )
        reply.raise_for_status()
        session = reply.json()
    manager = ServerKernel(
        owns_kernel=False,
        connection_file=str(stack.runtime_dir / f"kernel-{session['kernel']['id']}.json"),
    )
    manager.load_connection_file()
    runner = NotebookClient(notebook, km=manager, timeout=CELL_TIMEOUT_S, kernel_name="python3")
    try:
        asyncio.run(runner.async_execute())
    finally:
        atexit.unregister(runner._cleanup_kernel)
        if runner.kc is not None:
            runner.kc.stop_channels()
        with stack.http() as http:
            http.delete(f"api/sessions/{session['id']}")
    return notebook


#: What a view's output holds for a page that can run widgets.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: Notebooks that show a job table, a batch or a structure (views with an HTML summary).
SHOWS_VIEWS = ("01-quickstart.ipynb", "02-docking.ipynb", "03-structure-prediction.ipynb")


def shared_html(notebook: Any) -> str:
    """The executed notebook as static HTML, made as the README says to share one:
    nbconvert with the widget state cleared, so that each view shows its summary."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ClearMetadataPreprocessor

    shared, _ = ClearMetadataPreprocessor(enabled=True).preprocess(nbformat.from_dict(notebook), {})
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(shared)
    return str(html)


def photograph(html: str, name: str) -> Path:
    """The notebook's static HTML photographed whole in chromium, under tests/artifacts."""
    ARTIFACTS.mkdir(exist_ok=True)
    page_file = ARTIFACTS / f"notebook-{Path(name).stem}.html"
    page_file.write_text(html, encoding="utf-8")
    picture = ARTIFACTS / f"notebook-{Path(name).stem}.png"
    with launch() as seen:
        seen.page.goto(page_file.as_uri())
        seen.page.wait_for_load_state("load")
        seen.page.screenshot(path=str(picture), full_page=True)
    return picture


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, server: Stack) -> None:
    notebook = execute_in_server(server, path.name)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(str(o.get("text") or o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "COMPLETED" in text
    assert "Traceback" not in text and "CRITICAL" not in text
    nbformat.write(notebook, server.root / f"executed-{path.name}")  # for a failure
    CHECKS[path.name](notebook, server.root / "piq")
    # Shared as static HTML, every view that has a summary shows it, not a blank.
    html = shared_html(notebook)
    summaries = [
        o.data["text/html"]
        for o in outputs
        if WIDGET_VIEW in o.get("data", {}) and "text/html" in o.data
    ]
    assert summaries or path.name not in SHOWS_VIEWS, "no view with a summary was shown"
    assert all(summary in html for summary in summaries), path.name
    if Path(CHROMIUM).exists():
        assert photograph(html, path.name).stat().st_size > 10_000
