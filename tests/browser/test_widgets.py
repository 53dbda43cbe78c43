"""The notebook widgets as a person meets them: in a real JupyterLab, in Debian's
chromium, with nothing fetched from the internet. One notebook runs a protein-stats
job, a docking of BACE-1's inhibitor into its receptor and a folding with the tiny
ESMFold; no cell is ever run twice, so everything that changes after a cell ran
came live through the kernel's event feed. Each widget is photographed in the light
and the dark theme (tests/artifacts/) and checked by axe-core."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from proteiniq_jupyter.store.sql_store import SqlStore

from ..stack import Stack
from .lab import LabNotebook

#: A 60-residue protein (the start of P54025, tests/data/colabfold): the tiny model
#: folds it in seconds.
FOLD_SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKA"
STATS_SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQ"
#: BACE-1's co-crystallised macrocyclic inhibitor docked back into its receptor (the
#: receptor with hydrogens, as AutoDock Vina's own example gives it), in the crystal
#: ligand's box, at exhaustiveness 1 (the fixtures of tests/data/docking).
DOCKING = """from rdkit import Chem
ligand = Chem.MolFromMol2File("data/BACE_1_ligand.mol2", removeHs=False)
dock = piq.run(
    "autodock-vina",
    receptor="data/BACE_1_receptorH.pdb",
    ligands=ligand,
    reference_ligand="data/BACE_1_ligand.mol2",
    exhaustiveness=1,
    num_poses=3,
    name="BACE-1 redocking",
)
display(dock)
dock.view()"""
FOLDING = f"""fold = piq.run("esmfold", "{FOLD_SEQUENCE}", name="Tiny fold")
display(fold)
fold.view()"""
#: A job's progress widget, and its status badge (the status in words, not colour).
PROGRESS = ".piq-progress"
BADGE = ".piq-badge[data-status]"
CANVAS = "[data-testid='structure-canvas']"
TABLE = ".piq-table-view"
#: How long the docking and the folding may take on a busy two-core machine.
JOB_TIMEOUT_MS = 600_000
#: The tests that wait for the docking: it may take minutes on a loaded machine.
WAITS_FOR_DOCKING = pytest.mark.timeout(900)


def api(lab: Stack, path: str) -> Any:
    """A GET of the extension's API as the lab's own user."""
    with lab.http() as http:
        reply: httpx.Response = http.get(f"proteiniq/api/v1/{path}")
    assert reply.status_code == 200, reply.text
    return reply.json()


def kernel_value(notebook: LabNotebook, name: str, expression: str) -> Any:
    """The JSON value of ``expression`` in the notebook's kernel, printed by a cell."""
    output = notebook.run(name, f"import json\nprint(json.dumps({expression}))")
    return json.loads(output.inner_text().strip().splitlines()[-1])


def assert_accessible(found: dict[str, list[dict[str, Any]]]) -> None:
    assert found == {"light": [], "dark": []}, json.dumps(found, indent=1)


@pytest.fixture(scope="module")
def live_jobs(notebook: LabNotebook) -> dict[str, Any]:
    """The docking and the folding, started by two cells that return at once (each
    shows the job's progress and its structure view, both still empty); the
    statuses their widgets showed when the cells had run."""
    shown: dict[str, Any] = {}
    for name, code in (("dock", DOCKING), ("fold", FOLDING)):
        output = notebook.run(name, code)
        badge = output.locator(f"{PROGRESS} {BADGE}").first
        badge.wait_for(timeout=60_000)
        shown[name] = badge.get_attribute("data-status")
    shown["ids"] = kernel_value(notebook, "ids", "{'dock': dock.id, 'fold': fold.id}")
    return shown


@pytest.fixture(scope="module")
def stats(notebook: LabNotebook) -> tuple[Any, str]:
    """A protein-stats job run by the magic: the cell's output, and the job's id."""
    output = notebook.run(
        "stats", f'job = %piq run protein-stats {STATS_SEQUENCE} --name "Stats of a peptide"'
    )
    return output, kernel_value(notebook, "stats-id", "job.id")


def test_a_magic_run_shows_its_progress_completed(
    notebook: LabNotebook, stats: tuple[Any, str]
) -> None:
    output, _ = stats
    progress = output.locator(PROGRESS).first
    progress.locator(f"{BADGE}[data-status='COMPLETED']").wait_for(timeout=60_000)
    assert "Completed" in progress.inner_text()
    assert progress.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"
    assert_accessible(notebook.in_both_themes(progress, "job-progress"))


@WAITS_FOR_DOCKING
def test_progress_follows_the_docking_and_the_folding_to_completed(
    notebook: LabNotebook, live_jobs: dict[str, Any], lab: Stack
) -> None:
    """The docking takes seconds: its cell returned with it still waiting or
    running, and its widget reaches COMPLETED with no cell run again."""
    assert live_jobs["dock"] in ("PENDING", "PROCESSING"), live_jobs
    for name in ("dock", "fold"):
        progress = notebook.output(name).locator(PROGRESS).first
        progress.locator(f"{BADGE}[data-status='COMPLETED']").wait_for(timeout=JOB_TIMEOUT_MS)
        assert api(lab, f"jobs/{live_jobs['ids'][name]}")["status"] == "COMPLETED"
        notebook.screenshot(progress, f"job-progress-{name}")


@WAITS_FOR_DOCKING
@pytest.mark.parametrize(
    ("name", "label"), [("fold", "folded protein"), ("dock", "docked complex")]
)
def test_the_structure_view_draws_the_structure(
    notebook: LabNotebook, live_jobs: dict[str, Any], name: str, label: str
) -> None:
    """The view was shown before the job had a structure; once the job completes it
    draws one in WebGL: pixels of many colours, for the folded protein coloured by
    pLDDT (with its legend) and for the receptor with a docked pose (green ligand
    carbons) and its affinity."""
    view = notebook.output(name).locator(".piq-structure").first
    canvas_box = view.locator(f"{CANVAS}[data-rendered='true']")
    canvas_box.wait_for(timeout=JOB_TIMEOUT_MS)
    pixels = notebook.canvas_pixels(canvas_box)
    assert pixels["colours"] > 16, (label, pixels)  # not one colour: a drawing
    assert pixels["drawn"] > pixels["total"] // 50, pixels
    if name == "fold":
        assert "pLDDT" in view.inner_text()
    else:
        assert pixels["green"] > 50, pixels  # the ligand, inside the receptor
        affinity = view.locator("[data-testid='pose-affinity']").inner_text()
        assert "kcal/mol" in affinity, affinity
    assert_accessible(notebook.in_both_themes(view, f"structure-view-{name}"))
    # The canvas's background follows the theme, also when it changes after drawing.
    notebook.set_theme("dark")
    dark = notebook.canvas_pixels(canvas_box)["corner"]
    notebook.set_theme("light")
    light = notebook.canvas_pixels(canvas_box)["corner"]
    assert max(dark) < 64 < 192 < min(light), (dark, light)


def test_renaming_in_the_job_table_renames_the_job_in_the_store(
    notebook: LabNotebook, stats: tuple[Any, str], store: SqlStore
) -> None:
    """From the row's menu, by keyboard: the menu's Rename, a new name, Enter on the
    Rename button; the store has the new name and the row shows it."""
    _, job_id = stats
    output = notebook.run("table", "piq.jobs()")
    table = output.locator(TABLE).first
    row = table.locator(f"tr[data-job='{job_id}']")
    row.wait_for(timeout=30_000)
    assert_accessible(notebook.in_both_themes(table, "job-table"))
    row.get_by_role("button", name="Actions for Stats of a peptide").click()
    menu = table.locator(f"tr[data-menu-for='{job_id}']")
    menu.get_by_role("menuitem", name="Rename…").press("Enter")
    field = menu.get_by_role("textbox", name="New name")
    field.fill("Peptide stats, renamed")
    menu.get_by_role("button", name="Rename", exact=True).press("Enter")
    row.get_by_role("cell", name="Peptide stats, renamed", exact=True).wait_for(timeout=30_000)
    with store.read() as tx:
        job = tx.get_job(job_id)
    assert job is not None and job.name == "Peptide stats, renamed"
    notebook.screenshot(table, "job-table-renamed")


def shown_ids(table: Any) -> list[str]:
    return [r.get_attribute("data-job") or "" for r in table.locator("tr[data-job]").all()]


def test_a_header_sorts_the_whole_history_in_the_job_table(
    notebook: LabNotebook, stats: tuple[Any, str], lab: Stack
) -> None:
    """Two rows a page: the Created header (by keyboard) turns the history oldest
    first, so rows from the last pages come first; Name sorts every job by name."""
    notebook.run(
        "more-jobs",
        "for word in ('kilo', 'alfa', 'echo'):\n"
        f"    piq.run('protein-stats', '{STATS_SEQUENCE}', name=f'Sorted {{word}}', new=True)",
    )
    output = notebook.run("sorted-table", "piq.jobs(page_size=2)")
    table = output.locator(TABLE).first
    newest = [j["id"] for j in api(lab, "jobs?limit=2")["data"]]
    table.locator(f"tr[data-job='{newest[0]}']").wait_for(timeout=30_000)
    assert shown_ids(table) == newest
    created = table.get_by_role("columnheader", name="Created")
    assert created.get_attribute("aria-sort") == "descending"
    created.get_by_role("button").press("Enter")
    oldest = [j["id"] for j in api(lab, "jobs?limit=2&sort=created_at&order=asc")["data"]]
    assert not set(oldest) & set(newest)  # from other pages, not this page turned around
    table.locator(f"tr[data-job='{oldest[0]}']").wait_for(timeout=30_000)
    assert shown_ids(table) == oldest
    assert created.get_attribute("aria-sort") == "ascending"
    name = table.get_by_role("columnheader", name="Name")
    name.get_by_role("button").click()
    by_name = [j["id"] for j in api(lab, "jobs?limit=2&sort=name&order=asc")["data"]]
    table.locator(f"tr[data-job='{by_name[0]}']").wait_for(timeout=30_000)
    assert shown_ids(table) == by_name
    assert name.get_attribute("aria-sort") == "ascending"
    assert created.get_attribute("aria-sort") == "none"
    assert "headers sort the whole history" in (table.locator("caption").text_content() or "")
    notebook.screenshot(table, "job-table-sorted-by-name")


def test_an_invitation_in_the_share_dialog_shows_as_pending(
    notebook: LabNotebook, live_jobs: dict[str, Any], lab: Stack
) -> None:
    output = notebook.run("share", "dock.share_dialog()")
    dialog = output.locator("[data-testid='piq-share']").first
    dialog.wait_for(timeout=30_000)
    dialog.locator("[data-testid='piq-share-invite']").fill("newcomer@elsewhere.example")
    dialog.locator("[data-testid='piq-share-invite-button']").click()
    person = dialog.locator("[data-testid='piq-share-person']").filter(
        has_text="newcomer@elsewhere.example"
    )
    person.locator("[data-testid='piq-share-pending']").wait_for(timeout=30_000)
    assert "Pending" in person.inner_text()
    share = api(lab, f"jobs/{live_jobs['ids']['dock']}/share")
    assert share["visibility"] == "invited", share
    assert "newcomer@elsewhere.example" in json.dumps(share)
    assert_accessible(notebook.in_both_themes(dialog, "share-dialog"))


def test_the_run_form_shows_the_cost_and_its_submit_creates_a_job(
    notebook: LabNotebook, store: SqlStore
) -> None:
    """The echo tool costs 10 credits per started 10 characters, per repeat: 13
    characters twice are 40 credits, on the button before anything is submitted."""
    output = notebook.run("form", 'form = piq.form("echo")\nform')
    form = output.locator(".piq-run-form").first
    form.locator("[data-testid='piq-input-text']").fill("hello browser")
    form.locator("[data-testid='piq-setting-repeat']").fill("2")
    button = form.locator("[data-testid='piq-run-button']")
    notebook.page.wait_for_function(
        "(button) => /40 credits/.test(button.textContent)",
        arg=button.element_handle(),
        timeout=30_000,
    )
    assert "40 credits" in form.locator("[data-testid='piq-run-cost']").inner_text()
    assert_accessible(notebook.in_both_themes(form, "run-form"))
    button.click()
    submitted = form.locator("[data-testid='piq-run-job']")
    submitted.wait_for(timeout=30_000)
    job_id = kernel_value(notebook, "form-job", "form.job.id")
    assert job_id in submitted.inner_text() or submitted.locator(f"[href*='{job_id}']").count()
    with store.read() as tx:
        job = tx.get_job(job_id)
    assert job is not None and job.tool == "echo" and job.settings["repeat"] == 2
    notebook.screenshot(form, "run-form-submitted")
