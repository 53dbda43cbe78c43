"""A wheel built from a fresh clone carries every asset its pages load: the public
job page's script and style, its template, and the 3D viewer, which git ignores
and the build copies from npm."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(shutil.which("npm") is None, reason="the build copies the viewer with npm"),
]


def test_a_wheel_from_a_clean_clone_carries_the_pages_assets(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    assert not (clone / "proteiniq_jupyter/static/vendor").exists()  # ignored by git
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--quiet", "-w", "dist"],
        cwd=clone,
        check=True,
    )
    [wheel] = (clone / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    template = (REPO / "proteiniq_jupyter/server/templates/public_job.html").read_text()
    page = (REPO / "proteiniq_jupyter/server/public.py").read_text()
    # what the page's template and its viewer block name under the static folder
    loaded = set(re.findall(r"\$static/([\w./-]+)", template))
    loaded |= set(re.findall(r"\{html\.escape\(static_url\)\}/([\w./-]+)", page))
    assert {"public-job.css", "public-job.js", "vendor/3Dmol-min.js"} <= loaded
    for asset in loaded:
        assert f"proteiniq_jupyter/static/{asset}" in names, asset
    assert "proteiniq_jupyter/server/templates/public_job.html" in names
    assert "proteiniq_jupyter/static/vendor/3Dmol-min.js.LICENSE.txt" in names
    # the JupyterLab extension, built, where JupyterLab finds it once installed
    lab = "/data/share/jupyter/labextensions/@proteiniq/labextension/"
    shipped = {name.partition(lab)[2] for name in names if lab in name}
    assert {"package.json", "install.json", "static/style.js"} <= shipped, shipped
    assert any(name.startswith("static/remoteEntry.") for name in shipped), shipped
    # and the notebook widgets' bundles
    assert "proteiniq_jupyter/static/widgets/job_table.js" in names
