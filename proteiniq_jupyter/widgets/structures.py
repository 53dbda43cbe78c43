"""What the structure views draw, read from a job: its scene (``api.scene``) and
the scene's files, and where the page gets 3Dmol.js.

The files travel in the widget's state gzip-compressed (binary buffers, so a
saved notebook reopens with its structures drawn, at about a fifth of their
size). 3Dmol.js itself is never part of a widget's state: the view loads it once
per page, from the Jupyter server extension's static files
(``{base_url}static/proteiniq/vendor/3Dmol-min.js``) where a server is there,
otherwise by asking its kernel once for the same bundled file.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import api
from ..api.scene import StructureScene, job_scene
from ..client.transport import Transport

#: The bundled 3Dmol.js (``make install`` copies it from npm).
VIEWER_SCRIPT = Path(__file__).resolve().parents[1] / "static" / "vendor" / "3Dmol-min.js"
#: Where the server extension serves it, under the server's base URL.
VIEWER_PATH = "static/proteiniq/vendor/3Dmol-min.js"


@dataclass
class Drawn:
    """A job's scene and its files, compressed, as the views' traits carry them."""

    scene: StructureScene | None = None
    files: dict[str, bytes] = field(default_factory=dict)

    def traits(self) -> dict[str, Any]:
        scene = None if self.scene is None else self.scene.model_dump(mode="json")
        return {"scene": scene, "structures": dict(self.files)}


def result_scene(job: api.Job) -> StructureScene | None:
    """The scene of a job's result (None before it has one, or with no structure)."""
    return job_scene(job)


def read_drawn(transport: Transport, job: api.Job) -> Drawn:
    """The job's scene with its files read and compressed."""
    scene = result_scene(job)
    if scene is None:
        return Drawn()
    files = {
        name: gzip.compress(transport.file(job.id, name), compresslevel=6, mtime=0)
        for name in scene.files
    }
    return Drawn(scene, files)


def viewer_script() -> bytes:
    """3Dmol.js, for a page with no server to load it from."""
    if not VIEWER_SCRIPT.is_file():
        raise FileNotFoundError(
            "the 3D viewer is not installed (run `make install`, which bundles "
            "3Dmol.js from npm into proteiniq_jupyter/static/vendor/)"
        )
    return VIEWER_SCRIPT.read_bytes()


def served_viewer_url(transport: Transport) -> str | None:
    """The path (from the site's root) at which the kernel's server serves
    3Dmol.js: a page of that server resolves it against its own origin, so it
    holds behind a proxy too. None with no server."""
    url = transport.connection.url
    if transport.connection.transport != "http" or not url:
        return None
    base = urlsplit(url).path or "/"
    return base.rstrip("/") + "/" + VIEWER_PATH
