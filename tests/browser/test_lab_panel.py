"""The JupyterLab extension in a real JupyterLab and Debian's chromium: the Jobs
panel over the jobs two members of one workspace submitted, its live rows and row
menu, the ``?jobId=`` deep link, the completion notification, the share dialog and
the credits in the status bar. The extension is the one built in this checkout
(``proteiniq_jupyter/labextension``), found through ``JUPYTER_PATH``."""

from __future__ import annotations

import importlib.metadata
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.model import Role
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.store.database import sqlite_url
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry

from ..conftest import FIXTURES, text_input
from ..helpers import Echo, Gate, Sleep
from ..stack import Stack, stop_stack
from .chromium import AXE, REPO, Visit
from .lab import LabNotebook, start_lab

BUILT = REPO / "proteiniq_jupyter" / "labextension"
PANEL = "#proteiniq-jobs"
DETAIL = "[data-testid='job-detail']"
CREDITS = ".piq-lab-credits"
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(
    not (BUILT / "package.json").is_file(), reason="the lab extension is not built (make install)"
)


def post(lab: Stack, path: str, body: dict[str, Any]) -> Any:
    """A POST to the extension's API as the lab's own user (ada)."""
    with lab.http() as http:
        reply: httpx.Response = http.post(f"proteiniq/api/v1/{path}", json=body)
    assert reply.status_code in (200, 201), reply.text
    return reply.json()


def get(lab: Stack, path: str) -> Any:
    with lab.http() as http:
        reply: httpx.Response = http.get(f"proteiniq/api/v1/{path}")
    assert reply.status_code == 200, reply.text
    return reply.json()


def echo(text: str, name: str) -> dict[str, Any]:
    inputs = [{"slotId": "text", "kind": "text", "format": "text", "content": text}]
    return {"tool": "echo", "name": name, "input": {"inputs": inputs}}


class Team:
    """Ada (the lab's user) and Bob in one workspace, Carol in her own; Bob's and
    Carol's jobs go in through the job service on the lab's own store."""

    def __init__(self, lab: Stack) -> None:
        get(lab, "account")  # the lab signs ada in, with her credits
        self.store = SqlStore.open(sqlite_url(lab.root / "piq" / "piq.sqlite"))
        self.service = JobService(
            self.store,
            ToolRegistry([Echo(), Sleep()]),
            DirectoryJobFiles(lab.root / "piq" / "jobs"),
        )
        ada = self.service.sign_in("ada")
        self.service.add_member(ada, "bob", Role.MEMBER, email="bob@lab.example")
        self.bob: Actor = self.service.sign_in("bob", workspace_id=ada.workspace_id)
        self.carol: Actor = self.service.sign_in("carol", email="carol@elsewhere.example")

    def submit(self, actor: Actor, text: str, name: str) -> str:
        return self.service.submit(actor, "echo", [text_input(text)], name=name).id


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    assert AXE.is_file(), f"{AXE} is missing: run `jlpm install` (make install does)"
    root = tmp_path_factory.mktemp("lab-panel")
    shared = root / "jupyter-path" / "labextensions" / "@proteiniq"
    shared.mkdir(parents=True)
    (shared / "labextension").symlink_to(BUILT, target_is_directory=True)
    stack = start_lab(
        root,
        {
            "PIQ_STARTING_CREDITS": "100000",
            "PIQ_USER": "ada",
            "PIQ_EMAIL": "ada@lab.example",
            "JUPYTER_PATH": str(root / "jupyter-path"),
        },
    )
    try:
        yield stack
    finally:
        stop_stack(stack)


@pytest.fixture(scope="module")
def team(lab: Stack) -> Iterator[Team]:
    team = Team(lab)
    yield team
    team.store.close()


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    gate = Gate(tmp_path_factory.mktemp("gates") / "gate")
    yield gate
    gate.open()


@pytest.fixture(scope="module")
def lab_page(browser: Visit, lab: Stack) -> LabNotebook:
    """JupyterLab open in the page, the Jobs panel shown."""
    page = LabNotebook(browser, lab, "unused.ipynb")
    page.page.goto(f"{lab.url}lab?token={lab.token}")
    page.page.wait_for_function("() => !!window.jupyterapp", timeout=120_000)
    page.page.evaluate(
        "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }"
    )
    show_panel(page)
    return page


def show_panel(page: LabNotebook) -> Any:
    page.page.evaluate(
        "async () => { await window.jupyterapp.commands.execute('proteiniq:open-jobs'); }"
    )
    panel = page.page.locator(PANEL)
    panel.locator(".piq-table-view").wait_for(timeout=TIMEOUT_MS)
    return panel


def row(page: LabNotebook, job_id: str) -> Any:
    return page.page.locator(f"{PANEL} tr[data-job='{job_id}']")


def credits_shown(page: LabNotebook) -> str:
    text: str = page.page.locator(CREDITS).inner_text()
    return text


def test_the_extension_is_listed_enabled(lab: Stack) -> None:
    """`jupyter labextension list` in the lab's environment names it, enabled."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        env=lab.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    listing = done.stdout + done.stderr
    line = next((x for x in listing.splitlines() if "@proteiniq/labextension" in x), "")
    assert "enabled" in line and "OK" in line, listing


def test_the_panel_lists_the_jobs_of_both_members(
    lab_page: LabNotebook, team: Team, lab: Stack
) -> None:
    ada_job = post(lab, "jobs", echo("hello from ada", "Ada's echo"))["id"]
    bob_job = team.submit(team.bob, "hello from bob", "Bob's echo")
    show_panel(lab_page)
    # The sidebar is narrow: a job's row keeps its name, status and menu, and tool,
    # submitter, cost and time go to a line of their own below; nothing to scroll.
    for job_id, name, who in ((ada_job, "Ada's echo", "ada"), (bob_job, "Bob's echo", "bob")):
        found = row(lab_page, job_id)
        found.wait_for(timeout=TIMEOUT_MS)
        assert name in found.inner_text()
        meta = lab_page.page.locator(f"{PANEL} tr[data-meta-for='{job_id}']")
        assert meta.inner_text().startswith(f"echo · {who} · "), meta.inner_text()
    panel = lab_page.page.locator(PANEL)
    found = lab_page.in_both_themes(panel, "lab-jobs-panel")
    assert all(v == [] for v in found.values()), json.dumps(found, indent=1)[:4000]
    scroll = panel.locator(".piq-table-scroll").first
    overflow = scroll.evaluate("(e) => e.scrollWidth - e.clientWidth")
    assert overflow <= 1, overflow


def test_a_running_job_turns_completed_without_a_reload(
    lab_page: LabNotebook, lab: Stack, gate: Gate
) -> None:
    """Held at its gate the job is running; let go, its row says Completed (the page
    was not reloaded: a marker set on the window survives), a notification says so
    and its action opens the job."""
    lab_page.page.evaluate("() => { window.__notReloaded = true; }")
    job = post(
        lab,
        "jobs",
        {
            "tool": "sleep",
            "name": "Held sleep",
            "settings": gate.settings(),
            "input": echo("x", "x")["input"],
        },
    )
    held = row(lab_page, job["id"])
    held.locator(".piq-badge[data-status='PROCESSING']").wait_for(timeout=TIMEOUT_MS)
    gate.open()
    held.locator(".piq-badge[data-status='COMPLETED']").wait_for(timeout=TIMEOUT_MS)
    assert lab_page.page.evaluate("() => window.__notReloaded === true")
    toast = lab_page.page.locator(".Toastify__toast").filter(has_text="Held sleep")
    toast.wait_for(timeout=TIMEOUT_MS)
    assert "completed" in toast.inner_text()
    toast.get_by_role("button", name="Open job").click()
    detail = lab_page.page.locator(f"#proteiniq-job-{job['id']} {DETAIL}")
    detail.wait_for(timeout=TIMEOUT_MS)


def test_jobs_that_end_together_share_one_notification(
    lab_page: LabNotebook, lab: Stack, gate: Gate
) -> None:
    """Three jobs let go at once: one notification counts them and names the latest,
    instead of a toast each over the notebook; its second action shows the panel."""
    names = [f"Together {n}" for n in range(3)]
    jobs = [
        post(
            lab,
            "jobs",
            {
                "tool": "sleep",
                "name": name,
                "settings": gate.settings(),
                "input": echo("x", "x")["input"],
            },
        )
        for name in names
    ]
    for job in jobs:
        row(lab_page, job["id"]).wait_for(timeout=TIMEOUT_MS)
    # What earlier tests' jobs announced is put away, so the toast counts these alone.
    lab_page.page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:dismiss-notification')"
    )
    gate.open()
    toast = lab_page.page.locator(".Toastify__toast").filter(has_text="3 jobs completed")
    toast.wait_for(timeout=TIMEOUT_MS)
    assert re.search(r"Latest: Together \d \(completed\)", toast.inner_text()), toast.inner_text()
    toasts = lab_page.page.locator(".Toastify__toast").filter(has_text="Together")
    assert toasts.count() == 1, [toasts.nth(i).inner_text() for i in range(toasts.count())]
    lab_page.page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
    lab_page.page.locator(PANEL).wait_for(state="hidden", timeout=TIMEOUT_MS)
    toast.get_by_role("button", name="Show jobs").click()
    lab_page.page.locator(PANEL).wait_for(state="visible", timeout=TIMEOUT_MS)


def test_the_credits_item_changes_when_a_job_is_charged(lab_page: LabNotebook, lab: Stack) -> None:
    """An echo job holds its credits when it is accepted: the status bar follows the
    workspace's balance without a reload."""
    shown = lab_page.page.locator(CREDITS)
    shown.filter(has_text=re.compile(r"Credits: [0-9]")).wait_for(timeout=TIMEOUT_MS)
    before = credits_shown(lab_page)
    post(lab, "jobs", echo("a charged echo", "Charged echo"))
    lab_page.page.wait_for_function(
        "([sel, before]) => document.querySelector(sel).textContent !== before",
        arg=[CREDITS, before],
        timeout=TIMEOUT_MS,
    )
    available = get(lab, "account")["workspace"]["credits"]["available"]
    shown.filter(has_text=f"Credits: {available:,}").wait_for(timeout=TIMEOUT_MS)
    assert credits_shown(lab_page) != before


def test_rename_and_delete_through_the_menu_reach_the_store(
    lab_page: LabNotebook, lab: Stack, team: Team
) -> None:
    job_id = post(lab, "jobs", echo("to rename", "Before rename"))["id"]
    found = row(lab_page, job_id)
    found.wait_for(timeout=TIMEOUT_MS)
    menu = lab_page.page.locator(f"#proteiniq-jobs tr[data-menu-for='{job_id}']")
    found.get_by_role("button", name="Actions for Before rename").click()
    menu.get_by_role("menuitem", name="Rename…").press("Enter")
    menu.get_by_role("textbox", name="New name").fill("After rename")
    menu.get_by_role("button", name="Rename", exact=True).press("Enter")
    found.get_by_role("cell", name="After rename", exact=True).wait_for(timeout=TIMEOUT_MS)
    with team.store.read() as tx:
        job = tx.get_job(job_id)
    assert job is not None and job.name == "After rename"

    found.get_by_role("button", name="Actions for After rename").click()
    menu.get_by_role("menuitem", name="Delete…").press("Enter")
    assert "permanent" in menu.inner_text()
    menu.get_by_role("button", name="Delete permanently").click()
    found.wait_for(state="detached", timeout=TIMEOUT_MS)
    with team.store.read() as tx:
        assert tx.get_job(job_id) is None


def test_a_job_link_opens_its_detail_and_an_unseen_job_is_not_found(
    lab_page: LabNotebook, lab: Stack, team: Team
) -> None:
    job_id = post(lab, "jobs", echo("linked", "Linked echo"))["id"]
    page = lab_page.page
    page.goto(f"{lab.url}lab?jobId={job_id}&token={lab.token}")
    detail = page.locator(f"#proteiniq-job-{job_id} {DETAIL}")
    detail.wait_for(timeout=120_000)
    assert "Linked echo" in detail.inner_text()
    found = lab_page.in_both_themes(detail, "lab-job-detail")
    assert all(v == [] for v in found.values()), json.dumps(found, indent=1)[:4000]

    hidden = team.submit(team.carol, "not yours", "Carol's private echo")
    page.goto(f"{lab.url}lab?jobId={hidden}&token={lab.token}")
    missing = page.locator(f"#proteiniq-job-{hidden} [role='alert']")
    missing.wait_for(timeout=120_000)
    assert "not found" in missing.inner_text()
    assert "Carol" not in page.locator(f"#proteiniq-job-{hidden}").inner_text()


def test_the_share_dialog_sets_visibility_and_shows_an_invitation_pending(
    lab_page: LabNotebook, lab: Stack
) -> None:
    job_id = post(lab, "jobs", echo("to share", "Shared echo"))["id"]
    show_panel(lab_page)
    found = row(lab_page, job_id)
    found.wait_for(timeout=TIMEOUT_MS)
    found.get_by_role("button", name="Actions for Shared echo").click()
    menu = lab_page.page.locator(f"#proteiniq-jobs tr[data-menu-for='{job_id}']")
    menu.get_by_role("menuitem", name="Share…").press("Enter")
    dialog = lab_page.page.locator("[data-testid='piq-share']")
    dialog.wait_for(timeout=TIMEOUT_MS)
    dialog.locator("[data-testid='piq-share-visibility-logged_in']").click()
    dialog.locator("[data-testid='piq-share-visibility-logged_in']:checked").wait_for(
        timeout=TIMEOUT_MS
    )
    assert get(lab, f"jobs/{job_id}/share")["visibility"] == "logged_in"
    dialog.locator("[data-testid='piq-share-invite']").fill("newcomer@elsewhere.example")
    dialog.locator("[data-testid='piq-share-invite-button']").click()
    dialog.locator("[data-testid='piq-share-pending']").wait_for(timeout=TIMEOUT_MS)
    share = get(lab, f"jobs/{job_id}/share")
    assert "newcomer@elsewhere.example" in json.dumps(share)
    found_a11y = lab_page.in_both_themes(dialog, "lab-share-dialog")
    assert all(v == [] for v in found_a11y.values()), json.dumps(found_a11y, indent=1)[:4000]
    lab_page.page.locator(".jp-Dialog").get_by_role("button", name="Done").click()
    dialog.wait_for(state="detached", timeout=TIMEOUT_MS)


def test_a_job_detail_draws_its_structure(lab_page: LabNotebook, lab: Stack) -> None:
    """A real conversion of a real ColabFold model: its detail in the main area draws
    the structure in WebGL (pixels of many colours), in both themes."""
    model = FIXTURES / "colabfold" / "ERR550519_2213899_unrelaxed_model_1.pdb"
    with lab.http() as http:
        upload = http.post(
            "proteiniq/api/v1/files",
            params={"name": "model.pdb"},
            content=model.read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
    assert upload.status_code == 201, upload.text
    item = {
        "slotId": "structure",
        "kind": "structure",
        "format": "pdb",
        "content": "",
        "source": {"type": "file", "file_id": upload.json()["id"]},
    }
    job = post(
        lab, "jobs", {"tool": "pdb-to-mmcif", "name": "Model 1", "input": {"inputs": [item]}}
    )
    lab_page.page.evaluate(
        "async (id) => { await window.jupyterapp.commands.execute('proteiniq:open-job', {id}); }",
        job["id"],
    )
    detail = lab_page.page.locator(f"#proteiniq-job-{job['id']} {DETAIL}")
    canvas_box = detail.locator("[data-testid='structure-canvas'][data-rendered='true']")
    canvas_box.wait_for(timeout=120_000)
    pixels = lab_page.canvas_pixels(canvas_box.locator("canvas").first)
    assert pixels["colours"] > 16, pixels  # not one colour: a drawing
    assert pixels["drawn"] > pixels["total"] // 50, pixels
    found = lab_page.in_both_themes(detail, "lab-job-detail-structure")
    assert all(v == [] for v in found.values()), json.dumps(found, indent=1)[:4000]

    # What produced it: the tool's version and the library it ran on.
    detail.locator("summary", has_text="Provenance").click()
    provenance = detail.locator("[data-testid='job-provenance']").inner_text()
    assert "pdb-to-mmcif" in provenance, provenance
    assert f"gemmi\tlibrary\t{importlib.metadata.version('gemmi')}" in provenance, provenance


def wait_for_job(lab: Stack, job_id: str, status: str = "COMPLETED") -> dict[str, Any]:
    """The job once it has ``status`` (read over the API, as the page reads it)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        job: dict[str, Any] = get(lab, f"jobs/{job_id}")
        if job["status"] == status or time.monotonic() > deadline:
            assert job["status"] == status, job
            return job
        time.sleep(0.2)


def batch_child(batch: Any, job_id: str) -> Any:
    return batch.locator(f"[data-testid='piq-batch-child'][data-job-id='{job_id}']")


def test_a_batch_detail_follows_its_children_and_retries_the_stopped_one(
    lab_page: LabNotebook, lab: Stack, team: Team, tmp_path: Path
) -> None:
    """A batch of two held sleeps, one of them cancelled: opened from the panel's
    batches, its detail shows each child's status and progress live, the credits held
    and spent, and its retry of the cancelled child reaches the store."""
    gate = Gate(tmp_path / "gate")
    items = [{"input": echo(text, text)["input"]} for text in ("first", "second")]
    batch = post(
        lab,
        "batches",
        {"tool": "sleep", "name": "Held batch", "items": items, "settings": gate.settings()},
    )
    held, stopped = batch["job_ids"]
    listed = show_panel(lab_page).locator(f".piq-lab-batches li[data-batch='{batch['id']}']")
    listed.get_by_role("link", name="Held batch").click()
    view = lab_page.page.locator(f"#proteiniq-batch-{batch['id']} [data-testid='piq-batch']")
    view.wait_for(timeout=TIMEOUT_MS)
    assert "Held batch" in view.inner_text()

    # Held after its first step: processing, half way; the other one cancelled.
    batch_child(view, held).locator("[role='progressbar'][aria-valuenow='50']").wait_for(
        timeout=TIMEOUT_MS
    )
    post(lab, f"jobs/{stopped}/cancel", {})
    batch_child(view, stopped).locator(".piq-badge[data-status='CANCELLED']").wait_for(
        timeout=TIMEOUT_MS
    )
    credits = view.locator("[data-testid='piq-batch-credits']")
    assert credits.inner_text().startswith("20 credits reserved"), credits.inner_text()
    found_a11y = lab_page.in_both_themes(view, "lab-batch-detail")
    assert all(v == [] for v in found_a11y.values()), json.dumps(found_a11y, indent=1)[:4000]

    gate.open()
    batch_child(view, held).locator(".piq-badge[data-status='COMPLETED']").wait_for(
        timeout=TIMEOUT_MS
    )
    view.get_by_role("button", name="Retry 1 failed").click()
    retry = view.locator("[data-testid='piq-batch-child']").nth(2)
    retry.locator(".piq-badge[data-status='COMPLETED']").wait_for(timeout=TIMEOUT_MS)
    children = get(lab, f"batches/{batch['id']}")["job_ids"]
    assert len(children) == 3 and children[:2] == [held, stopped], children
    with team.store.read() as tx:
        retried = tx.get_job(children[2])
    assert retried is not None and retried.origin_job_id == stopped
    counts = view.locator("[data-testid='piq-batch-counts']")
    counts.filter(has_text="2 Completed").filter(has_text="1 Cancelled").wait_for(
        timeout=TIMEOUT_MS
    )
    spent = get(lab, f"batches/{batch['id']}")["credits_charged"]
    credits.filter(has_text=f"{spent} credits spent").wait_for(timeout=TIMEOUT_MS)

    # A child's name opens its job, whose detail leads back to the batch; a
    # ?batchId= link opens the batch.
    batch_child(view, held).get_by_role("link").click()
    child = lab_page.page.locator(f"#proteiniq-job-{held} {DETAIL}")
    child.get_by_role("button", name="Open its batch").click()
    view.wait_for(state="visible", timeout=TIMEOUT_MS)
    lab_page.page.goto(f"{lab.url}lab?batchId={batch['id']}&token={lab.token}")
    linked = lab_page.page.locator(f"#proteiniq-batch-{batch['id']} [data-testid='piq-batch']")
    linked.locator("[data-testid='piq-batch-child']").nth(2).wait_for(timeout=120_000)


def test_the_files_view_lists_previews_and_downloads_files_across_jobs(
    lab_page: LabNotebook, lab: Stack
) -> None:
    job_id = post(lab, "jobs", echo("files for the view", "Filed echo"))["id"]
    wait_for_job(lab, job_id)
    with lab.http() as http:
        upload = http.post(
            "proteiniq/api/v1/files",
            params={"name": "files-view-notes.txt"},
            content=b"notes kept beside the jobs\n",
            headers={"Content-Type": "application/octet-stream"},
        )
    assert upload.status_code == 201, upload.text
    page = lab_page.page
    show_panel(lab_page).get_by_role("button", name="All files").click()
    view = page.locator("#proteiniq-files [data-testid='piq-files']")
    output = view.locator("li.piq-file").filter(has_text="Filed echo")
    output.wait_for(timeout=TIMEOUT_MS)
    assert "echo.txt" in output.inner_text() and "job output of" in output.inner_text()
    output.get_by_role("button", name="Preview echo.txt").click()
    preview = output.get_by_label("Preview of echo.txt")
    preview.wait_for(timeout=TIMEOUT_MS)
    assert preview.inner_text().strip() == "files for the view"
    with page.expect_download(timeout=TIMEOUT_MS) as downloading:
        output.get_by_role("button", name="Download echo.txt").click()
    saved = downloading.value
    assert saved.suggested_filename == "echo.txt"
    assert Path(saved.path()).read_text() == "files for the view"

    found_a11y = lab_page.in_both_themes(view, "lab-files")
    assert all(v == [] for v in found_a11y.values()), json.dumps(found_a11y, indent=1)[:4000]

    view.get_by_role("searchbox", name="Search").fill("view-notes")
    note = view.locator("li.piq-file")
    note.filter(has_text="files-view-notes.txt").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "(sel) => document.querySelectorAll(sel).length === 1",
        arg="#proteiniq-files li.piq-file",
        timeout=TIMEOUT_MS,
    )
    assert "upload" in note.inner_text()
    view.get_by_role("searchbox", name="Search").fill("")
    output.get_by_role("link", name="Filed echo").click()
    page.locator(f"#proteiniq-job-{job_id} {DETAIL}").wait_for(timeout=TIMEOUT_MS)


def test_duplicate_opens_the_settings_and_runs_the_copy_with_the_changes(
    lab_page: LabNotebook, lab: Stack, team: Team
) -> None:
    source = post(lab, "jobs", echo("duplicate me", "Dup source"))["id"]
    wait_for_job(lab, source)
    show_panel(lab_page)
    found = row(lab_page, source)
    found.locator(".piq-badge[data-status='COMPLETED']").wait_for(timeout=TIMEOUT_MS)
    found.get_by_role("button", name="Actions for Dup source").click()
    menu = lab_page.page.locator(f"{PANEL} tr[data-menu-for='{source}']")
    menu.get_by_role("menuitem", name="Duplicate…").press("Enter")
    form = lab_page.page.locator(f"#proteiniq-duplicate-{source} form.piq-run-form")
    form.wait_for(timeout=TIMEOUT_MS)
    text = form.locator("[data-testid='piq-input-text']")
    assert text.input_value() == "duplicate me" and not text.is_editable()
    cost = form.locator("[data-testid='piq-run-cost']")
    cost.filter(has_text="20 credits").wait_for(timeout=TIMEOUT_MS)
    # The job ran at the tool's defaults: nothing shows as changed yet.
    assert "changed" not in form.locator("[data-testid='piq-run-settings']").inner_text()
    form.locator("[data-testid='piq-setting-repeat']").fill("2")
    cost.filter(has_text="40 credits").wait_for(timeout=TIMEOUT_MS)
    form.locator("[data-testid='piq-run-name']").fill("Dup twice")
    lab_page.screenshot(form, "lab-duplicate-form")
    form.locator("[data-testid='piq-run-button']").click()
    detail = lab_page.page.locator(DETAIL).filter(has_text="Dup twice")
    detail.wait_for(timeout=TIMEOUT_MS)
    form.wait_for(state="detached", timeout=TIMEOUT_MS)
    new_id = lab_page.page.locator(".piq-lab-detail").filter(has=detail).get_attribute("id")
    assert new_id is not None and new_id.startswith("proteiniq-job-"), new_id
    copy = wait_for_job(lab, new_id.removeprefix("proteiniq-job-"))
    assert (copy["name"], copy["origin_job_id"]) == ("Dup twice", source), copy
    assert copy["settings"]["repeat"] == 2 and copy["credits"]["charged"] == 40, copy
    assert copy["result"]["fields"]["echo"] == "duplicate me duplicate me", copy["result"]
    with team.store.read() as tx:
        stored = tx.get_job(copy["id"])
    assert stored is not None and stored.settings["repeat"] == 2


def panel_ids(page: LabNotebook) -> list[str]:
    rows = page.page.locator(f"{PANEL} tr[data-job]").all()
    return [r.get_attribute("data-job") or "" for r in rows]


def test_a_header_sorts_the_whole_history_not_only_the_page(
    lab_page: LabNotebook, team: Team, lab: Stack
) -> None:
    """A job that the newest-first history shows only on a later page comes first
    once the Name header sorts every job by name; Created turns it back."""
    first_by_name = team.submit(team.bob, "sorted", "0 first by name")
    bulk = [team.submit(team.bob, "bulk", f"bulk {n:02d}") for n in range(52)]
    panel = show_panel(lab_page).locator(".piq-table-view")
    row(lab_page, bulk[-1]).wait_for(timeout=TIMEOUT_MS)
    newest = [j["id"] for j in get(lab, "jobs?limit=50")["data"]]
    assert first_by_name not in newest and not row(lab_page, first_by_name).count()
    name = panel.get_by_role("columnheader", name="Name")
    name.get_by_role("button").press("Enter")  # reachable by keyboard
    row(lab_page, first_by_name).wait_for(timeout=TIMEOUT_MS)
    by_name = [j["id"] for j in get(lab, "jobs?limit=50&sort=name&order=asc")["data"]]
    assert by_name[0] == first_by_name
    assert panel_ids(lab_page) == by_name
    assert name.get_attribute("aria-sort") == "ascending"
    caption = panel.locator("caption").first.text_content() or ""
    assert "headers sort the whole history" in caption
    lab_page.screenshot(panel, "lab-jobs-sorted-by-name")
    # the next page continues the same order
    pages = panel.get_by_role("navigation", name="Pages")
    pages.get_by_role("button", name="Next", exact=True).click()
    rest = get(lab, f"jobs?limit=50&sort=name&order=asc&starting_after={by_name_cursor(lab)}")
    row(lab_page, rest["data"][0]["id"]).wait_for(timeout=TIMEOUT_MS)
    assert panel_ids(lab_page) == [j["id"] for j in rest["data"]]
    # Name again: the other way; once more: newest first, as the panel opened
    name.get_by_role("button").click()
    last_by_name = get(lab, "jobs?limit=1&sort=name&order=desc")["data"][0]["id"]
    row(lab_page, last_by_name).wait_for(timeout=TIMEOUT_MS)
    assert panel_ids(lab_page)[0] == last_by_name
    assert name.get_attribute("aria-sort") == "descending"
    name.get_by_role("button").click()
    row(lab_page, newest[0]).wait_for(timeout=TIMEOUT_MS)
    assert panel_ids(lab_page) == newest
    assert name.get_attribute("aria-sort") == "none"


def by_name_cursor(lab: Stack) -> str:
    cursor: str = get(lab, "jobs?limit=50&sort=name&order=asc")["next_cursor"]
    return cursor
