"""A real JupyterLab with the ``proteiniq`` extension, and a notebook in it driven
as a person drives it: cells typed and run in the page, outputs waited for, the
theme switched, screenshots taken, accessibility and drawings checked.

The server is quiet for tests: no news, no update check (``--LabApp.news_url=None``
and a settings override), so that a run asks nothing of the internet."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..stack import Stack, start_stack
from .chromium import ARTIFACTS, CANVAS_PIXELS, Visit, axe_violations

#: JupyterLab settings for tests: no news or update check, every cell in the DOM
#: (no windowing), kernels started without asking, no autosave racing the test's
#: own saves, widget state saved with the notebook (as a person who keeps their
#: widgets sets it).
OVERRIDES: dict[str, Any] = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension:tracker": {
        "windowingMode": "none",
        # a second notebook starts its kernel as the first did, with no dialog asking
        "autoStartDefaultKernel": True,
    },
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True},
}
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
#: How long a cell may run on a busy two-core machine (a docking, a folding).
CELL_TIMEOUT_MS = 600_000


def start_lab(root: Path, env: Mapping[str, str] | None = None) -> Stack:
    """JupyterLab on 127.0.0.1 over a fresh SQLite store under ``root``, its
    settings (overrides, user settings, workspaces) under ``root`` too."""
    settings = root / "lab-settings"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(OVERRIDES, indent=2))
    return start_stack(
        root,
        "--LabApp.news_url=None",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.app_settings_dir={settings}",
        f"--LabApp.user_settings_dir={root / 'lab-user-settings'}",
        f"--LabApp.workspaces_dir={root / 'lab-workspaces'}",
        app="lab",
        extra_env=env,
    )


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class LabNotebook:
    """One notebook open in JupyterLab in ``seen.page``; cells are added at its end
    and run there, each found again by the name the test gives it."""

    def __init__(self, seen: Visit, stack: Stack, path: str) -> None:
        self.seen = seen
        self.page = seen.page
        self.stack = stack
        self.path = path
        self.theme = "light"

    def open(self) -> None:
        notebook = self.stack.root / "notebooks" / self.path
        if not notebook.exists():
            notebook.write_text(
                json.dumps(
                    {
                        "cells": [],
                        "metadata": {
                            "kernelspec": {
                                "name": "python3",
                                "display_name": "Python 3",
                                "language": "python",
                            }
                        },
                        "nbformat": 4,
                        "nbformat_minor": 5,
                    }
                )
            )
        self.page.goto(f"{self.stack.url}lab/tree/{self.path}?token={self.stack.token}")
        # This notebook in front (a notebook opened before may be restored with it)
        # and its kernel connected.
        self.page.wait_for_function(
            """(path) => {
              const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
              return !!(w && w.context && w.context.path === path
                        && w.sessionContext && w.sessionContext.session
                        && w.sessionContext.session.kernel
                        && w.sessionContext.session.kernel.connectionStatus === 'connected');
            }""",
            arg=self.path,
            timeout=120_000,
        )

    def run(self, name: str, code: str, *, timeout_ms: int = CELL_TIMEOUT_MS) -> Any:
        """Add a cell holding ``code`` at the end, run it as a person would (the run
        command of the page) and wait until the kernel has answered it; the cell's
        output area (a locator). A cell that raised fails the test with its error."""
        self.page.evaluate(
            """async ([name, code]) => {
              const app = window.jupyterapp;
              const panel = app.shell.currentWidget;
              const notebook = panel.content;
              const cells = notebook.widgets;
              const last = cells[cells.length - 1];
              notebook.activeCellIndex = cells.length - 1;
              if (last.model.sharedModel.getSource() !== '' || last.node.dataset.testCell) {
                await app.commands.execute('notebook:insert-cell-below');
              }
              const cell = notebook.activeCell;
              cell.model.sharedModel.setSource(code);
              cell.node.dataset.testCell = name;
              window.__cellRuns = window.__cellRuns || {};
              window.__cellRuns[name] = app.commands.execute('notebook:run-cell')
                .then(() => 'done');
            }""",
            [name, code],
        )
        self.page.wait_for_function(
            "async (name) => (await window.__cellRuns[name]) === 'done'",
            arg=name,
            timeout=timeout_ms,
        )
        output = self.output(name)
        errors = output.locator("[data-mime-type='application/vnd.jupyter.stderr']")
        error_text = "\n".join(errors.all_inner_texts())
        assert "Error" not in error_text and "Traceback" not in error_text, error_text
        return output

    def save(self) -> None:
        """Save the notebook as the menu does (with the widgets' state, when the
        widget manager's settings keep it)."""
        self.page.evaluate(
            "async () => { await window.jupyterapp.commands.execute('docmanager:save'); }"
        )

    def cell(self, name: str) -> Any:
        return self.page.locator(f"[data-test-cell='{name}']")

    def output(self, name: str) -> Any:
        return self.cell(name).locator(".jp-OutputArea")

    def set_theme(self, theme: str) -> None:
        """Switch JupyterLab to its ``light`` or ``dark`` theme, as its menu does."""
        self.page.evaluate(
            "async (theme) => { await window.jupyterapp.commands.execute("
            "'apputils:change-theme', {theme}); }",
            THEMES[theme],
        )
        light = "true" if theme == "light" else "false"
        self.page.wait_for_function(
            f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=30_000
        )
        self.page.wait_for_timeout(300)  # the theme's stylesheet settles
        self.theme = theme

    def screenshot(self, element: Any, name: str) -> Path:
        """A picture of ``element`` under tests/artifacts, named for it and the theme."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{slug(name)}-{self.theme}.png"
        element.scroll_into_view_if_needed()
        element.screenshot(path=str(path))
        return path

    def in_both_themes(self, element: Any, name: str) -> dict[str, list[dict[str, Any]]]:
        """Screenshots of ``element`` in the light and the dark theme, and the serious
        or critical accessibility violations axe-core finds in it in each."""
        found: dict[str, list[dict[str, Any]]] = {}
        for theme in ("light", "dark"):
            self.set_theme(theme)
            self.screenshot(element, name)
            found[theme] = axe_violations(self.page, element)
        self.set_theme("light")
        return found

    def canvas_pixels(self, element: Any) -> dict[str, Any]:
        """What the WebGL canvas in ``element`` (a locator) shows, through its pixels."""
        pixels: dict[str, Any] = self.page.evaluate(CANVAS_PIXELS, element.element_handle())
        return pixels
