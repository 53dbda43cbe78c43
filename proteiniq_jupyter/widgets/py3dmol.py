"""``job.view(backend="py3dmol")``: the job's structure as a py3Dmol view, for
those who script 3Dmol.js from Python. It loads 3Dmol.js from the server
extension's static files (never a CDN); with no server (the engine in this
process) the bundled file goes into the view's own output as a data URL."""

from __future__ import annotations

import base64
import gzip
from typing import Any

from .structures import Drawn, viewer_script

#: pLDDT coloured as a gradient over its usual range (red low, blue high).
PLDDT_STYLE = {"cartoon": {"colorscheme": {"prop": "b", "gradient": "roygb", "min": 50, "max": 90}}}
CHAIN_STYLE = {"cartoon": {"colorscheme": "chain"}}
RECEPTOR_STYLE = {"cartoon": {"color": "#b8c4d6", "opacity": 0.75}}
LIGAND_STYLE = {"stick": {"colorscheme": "greenCarbon", "radius": 0.25}}


def viewer_js(url: str | None) -> str:
    if url is not None:
        return url
    return "data:text/javascript;base64," + base64.b64encode(viewer_script()).decode("ascii")


def pose_record(sdf: str, rank: int) -> str:
    """The SD records of one pose (those whose ``pose`` data item is ``rank``)."""
    records = [r.strip("\r\n") for r in sdf.split("$$$$")]
    chosen = [r for r in records if _pose_of(r) == str(rank)]
    return "".join(f"{r}\n$$$$\n" for r in chosen)


def _pose_of(record: str) -> str | None:
    lines = record.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith(">") and "<pose>" in line:
            return lines[i + 1].strip()
    return None


def py3dmol_view(
    drawn: Drawn, url: str | None, *, model: int = 0, pose: int | None = None, **size: Any
) -> Any:
    """A ``py3Dmol.view`` of what ``drawn`` holds: the ``model``-th structure (or
    the receptor with pose ``pose``, the best by default)."""
    try:
        import py3Dmol
    except ImportError:
        raise ImportError(
            'the py3Dmol backend needs py3Dmol: pip install "proteiniq-jupyter[py3dmol]"'
        ) from None
    scene = drawn.scene
    if scene is None:
        raise ValueError("the job has no structure to show")
    view = py3Dmol.view(js=viewer_js(url), **size)
    structure = scene.structures[model]
    view.addModel(_text(drawn, structure.name), structure.format)
    if scene.poses_file is not None:
        view.setStyle({"model": 0}, RECEPTOR_STYLE)
        rank = scene.poses[0].rank if pose is None else pose
        if rank not in {p.rank for p in scene.poses}:
            known = ", ".join(str(p.rank) for p in scene.poses)
            raise ValueError(f"no pose {rank}; the poses are {known}")
        view.addModel(pose_record(_text(drawn, scene.poses_file), rank), "sdf")
        view.setStyle({"model": 1}, LIGAND_STYLE)
        view.zoomTo({"model": 1})
        view.zoom(0.6)
    else:
        view.setStyle(PLDDT_STYLE if scene.colour == "plddt" else CHAIN_STYLE)
        view.setStyle({"hetflag": True}, {"stick": {}})
        view.zoomTo()
    return view


def _text(drawn: Drawn, name: str) -> str:
    return gzip.decompress(drawn.files[name]).decode("utf-8")
