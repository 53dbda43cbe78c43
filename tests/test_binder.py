"""A rehearsal of Binder: repo2docker accepts ``binder/`` and the Dockerfile it
renders installs what the notebooks need; then an environment made only from
``binder/``'s files, as repo2docker makes it (``pip install -r
binder/requirements.txt`` from the repository's root, then ``postBuild`` if there
is one), starts JupyterLab through ``binder/start``, and chromium opens
``notebooks/01-quickstart.ipynb`` there, runs every cell with no request leaving
127.0.0.1, and sees a completed job and a structure drawn in 3D. The server and
everything it starts (the kernel, the Dask workers, the jobs) stay under Binder's
2 GB of memory all along.

The fresh environment takes its packages from pip's cache and this checkout (the
built front end included), so it costs what installing them costs, not a
download. The ESMFold weights cannot be on Binder; as in every other test, the
tiny random-weight ESMFold stands where they would be."""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from proteiniq_jupyter.tools.warm_host import HOST_PROCESS_NAME

from .browser.chromium import ARTIFACTS, CANVAS_PIXELS, NEEDS_CHROMIUM, launch
from .browser.lab import OVERRIDES
from .stack import START_TIMEOUT_S, free_port

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
REPO2DOCKER = Path(sys.executable).parent / "repo2docker"
#: Binder's memory per user.
BINDER_MEMORY = 2 * 1024**3
#: How long installing the environment may take on a busy two-core machine.
INSTALL_TIMEOUT_S = 1500


def requirements() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_binder_files_say_what_binder_needs():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    wanted = requirements()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in wanted
    esmfold_extra = importlib.metadata.requires("proteiniq-jupyter") or []
    torch_pin = next(r.split(";")[0].strip() for r in esmfold_extra if r.startswith("torch"))
    assert torch_pin in wanted  # the release the package is tested with
    [package] = [line for line in wanted if line.startswith(".[")]
    assert {"docking", "esmfold", "pandas"} <= set(package[2:-1].split(","))
    # the JupyterLab the extension is built (and tested) with
    assert f"jupyterlab=={importlib.metadata.version('jupyterlab')}" in wanted
    start = BINDER / "start"
    assert os.access(start, os.X_OK)
    # the README's badge opens the quickstart in JupyterLab, from the project's repository
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    owner_repo = project["urls"]["Repository"].removeprefix("https://github.com/")
    badge = f"https://mybinder.org/v2/gh/{owner_repo}/HEAD?urlpath=lab/tree/notebooks/01-quickstart.ipynb"
    assert badge in (REPO / "README.md").read_text()
    assert start.read_text().rstrip().endswith('exec "$@"')


def test_repo2docker_renders_a_dockerfile_that_installs_the_notebooks_needs():
    """``repo2docker --no-build`` reads ``binder/`` as Binder does, with no Docker."""
    done = subprocess.run(
        [str(REPO2DOCKER), "--no-build", "--debug", str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    said = done.stdout + done.stderr
    assert "Building conda environment for python=3.11" in said
    dockerfile = done.stdout
    copy = dockerfile.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    install = dockerfile.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    assert copy < install  # the package comes from the checkout, so after copying it
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in dockerfile
    # the base environment of Python 3.11 has the node that builds the JupyterLab
    # extension when pip builds the package
    found = importlib.util.find_spec("repo2docker")
    assert found is not None and found.origin is not None
    conda = Path(found.origin).parent / "buildpacks" / "conda"
    assert "environment-2epy-2d3-2e11-2dlinux-2d64-2elock" in dockerfile
    assert "nodejs" in (conda / "environment.py-3.11-linux-64.lock").read_text()


# -- the rehearsal ---------------------------------------------------------------


def make_binder_environment(target: Path) -> float:
    """A fresh virtual environment from ``binder/`` alone, as repo2docker makes it;
    the seconds it took."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    pip = [str(target / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "install", "--quiet", "-r", "binder/requirements.txt"],
        cwd=REPO,
        check=True,
        timeout=INSTALL_TIMEOUT_S,
        # This machine reaches no index but PyPI's (the CPU wheel of PyTorch lies in
        # pip's local wheels here), so pip is told not to retry the one it cannot.
        env={**os.environ, "PATH": f"{target / 'bin'}:{os.environ['PATH']}", "PIP_RETRIES": "0"},
    )
    post_build = BINDER / "postBuild"
    if post_build.exists():
        subprocess.run([str(post_build)], cwd=REPO, check=True)
    return time.monotonic() - started


class PeakMemory:
    """The largest memory the server and every process under it (kernels, Dask
    workers, jobs) held at once, with the warm hosts started meanwhile (detached
    from the server's tree, but in its container), sampled twice a second: their
    resident sets added up (which counts pages they share more than once) and
    their proportional sets (which counts each once)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.since = time.time() - 1
        self.rss = 0
        self.pss = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.wait(0.5):
            rss = pss = 0
            try:
                processes = [self.root, *self.root.children(recursive=True), *self._hosts()]
            except psutil.Error:
                continue
            for process in processes:
                try:
                    info = process.memory_full_info()
                except psutil.Error:
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)

    def _hosts(self) -> list[psutil.Process]:
        return [
            process
            for process in psutil.process_iter(["name", "create_time"])
            if process.info["name"] == HOST_PROCESS_NAME
            and process.info["create_time"] >= self.since
        ]

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def binder_lab(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], float]]:
    """JupyterLab from the fresh environment, started through ``binder/start`` in a
    copy of the repository's notebooks, on a store of its own."""
    from .tools.tiny_esmfold import build_tiny_esmfold

    environment = tmp_path / "binder-env"
    seconds = make_binder_environment(environment)
    print(f"\nthe Binder environment took {seconds:.0f} s to make")
    home = tmp_path / "home"
    shutil.copytree(REPO / "notebooks", home / "notebooks")
    settings = tmp_path / "lab-settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps(OVERRIDES))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIQ_", "JPY_", "JUPYTER"))}
    env.update(
        PATH=f"{environment / 'bin'}:{env['PATH']}",
        VIRTUAL_ENV=str(environment),
        PIQ_DATA_DIR=str(tmp_path / "piq"),
        PIQ_ESMFOLD_MODEL=str(build_tiny_esmfold(tmp_path / "esmfold")),
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
    )
    port, token = free_port(), secrets.token_hex(16)
    process = subprocess.Popen(
        [
            str(BINDER / "start"),
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            "--LabApp.news_url=None",
            "--LabApp.expose_app_in_browser=True",  # the test reads the page's app
            f"--LabApp.app_settings_dir={settings}",
            f"--LabApp.user_settings_dir={tmp_path / 'lab-user-settings'}",
            f"--LabApp.workspaces_dir={tmp_path / 'lab-workspaces'}",
        ],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            if f"127.0.0.1:{port}/" in line and any("proteiniq: jobs in" in x for x in log):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(START_TIMEOUT_S) and process.poll() is None, "".join(log[-40:])
        assert any(re.search(r"available\s+1000 credits", line) for line in log), "".join(log[:20])
        notebook = f"http://127.0.0.1:{port}/lab/tree/notebooks/01-quickstart.ipynb?token={token}"
        yield notebook, process, seconds
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def failure_picture(seen: Any) -> Iterator[None]:
    """A picture of the page in tests/artifacts when what it wraps fails."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        seen.page.screenshot(path=str(ARTIFACTS / "binder-failed.png"), full_page=True)
        raise


RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  return await app.commands.execute('notebook:run-all-cells');
}"""
KERNEL_READY = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return !!(w && w.sessionContext && w.sessionContext.session
            && w.sessionContext.session.kernel
            && w.sessionContext.session.kernel.connectionStatus === 'connected');
}"""
ALL_RAN = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter((c) => c.model.type === 'code');
  return panel.sessionContext.session.kernel.status === 'idle'
    && cells.every((c) => c.model.executionCount !== null);
}"""


@NEEDS_CHROMIUM
@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT_S + 900)
def test_binder_opens_the_quickstart_and_runs_it(binder_lab) -> None:
    url, server, install_s = binder_lab
    memory = PeakMemory(server.pid)
    try:
        with launch() as seen, failure_picture(seen):
            page = seen.page
            page.goto(url)
            page.wait_for_function(KERNEL_READY, timeout=180_000)
            page.evaluate(RUN_ALL)
            page.wait_for_function(ALL_RAN, timeout=600_000, polling=1000)
            errors = page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
            assert not [t for t in errors.all_inner_texts() if "Error" in t or "Traceback" in t]
            outputs = page.locator(".jp-OutputArea").all_inner_texts()
            assert any(line.startswith("COMPLETED") for o in outputs for line in o.splitlines())
            # the fold drawn in 3D, coloured by pLDDT with its legend
            view = page.locator(".jp-OutputArea .piq-structure").first
            viewer = view.locator("[data-testid='structure-canvas'][data-rendered='true']")
            viewer.wait_for(timeout=120_000)
            view.scroll_into_view_if_needed()
            ARTIFACTS.mkdir(exist_ok=True)
            view.screenshot(path=str(ARTIFACTS / "binder-quickstart-structure.png"))
            pixels = page.evaluate(CANVAS_PIXELS, viewer.element_handle())
            assert pixels["colours"] > 16, pixels  # not one colour: a drawing
            # a 22-residue peptide's cartoon fills little of the canvas
            assert pixels["drawn"] > pixels["total"] // 200, pixels
            assert "pLDDT" in view.inner_text()
            page.screenshot(path=str(ARTIFACTS / "binder-quickstart.png"), full_page=True)
            assert not seen.outside, seen.outside
    finally:
        memory.close()
        record = {
            "install_s": round(install_s),
            "peak_rss_mb": round(memory.rss / 2**20),
            "peak_pss_mb": round(memory.pss / 2**20),
        }
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "binder-memory.json").write_text(json.dumps(record, indent=2))
        print(f"\nBinder rehearsal: {record}")
    assert memory.rss < BINDER_MEMORY, record
