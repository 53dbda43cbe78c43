"""The widgets in a real JupyterLab, in Debian's chromium."""

from __future__ import annotations

from .lab import LabNotebook

SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQ"


def test_protein_stats_runs_in_the_notebook(notebook: LabNotebook) -> None:
    output = notebook.run("stats", f"%piq run protein-stats {SEQUENCE}")
    assert "COMPLETED" in output.inner_text()
    found = notebook.in_both_themes(output, "protein-stats")
    assert found == {"light": [], "dark": []}
