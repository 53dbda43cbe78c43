"""What a job's result draws in 3D: its structures and, for a docking, the poses
over the receptor. Derived once, from the result's files and rows, for every face
that draws it (the public job page, the notebook's structure view).

- A prediction (ESMFold, Boltz-2, AlphaFold-2) gives one structure per model, its
  rows ranked, with pLDDT in the B-factor column: drawn coloured by pLDDT.
- A docking gives a receptor and an SD file of poses, each record naming its pose
  (a ``pose`` data item), the rows each pose's rank and affinity.
- Any other structure file is drawn as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal

from .base import Resource

if TYPE_CHECKING:
    from .jobs import Job

#: The 3Dmol.js format of each structure file format a result may hold.
VIEWER_FORMATS = {
    "pdb": "pdb",
    "ent": "pdb",
    "cif": "cif",
    "mmcif": "cif",
    "sdf": "sdf",
    "mol": "sdf",
    "mol2": "mol2",
    "pdbqt": "pdbqt",
}
#: Formats of a whole structure (a protein, a complex), drawn as a cartoon.
MACROMOLECULE_FORMATS = ("pdb", "ent", "cif", "mmcif", "pdbqt")
#: Formats of docked poses: SD records, each naming its pose (a ``pose`` data item).
POSE_FORMATS = ("sdf",)
#: The result field that says the structures carry pLDDT in their B-factor column.
PLDDT_FIELD = "mean_plddt"


class SceneStructure(Resource):
    """One structure file to draw, with what the model selector says of it."""

    name: str
    format: str
    label: str
    rank: int | None
    mean_plddt: float | None


class ScenePose(Resource):
    """One docked pose: its rank (best first), affinity in kcal/mol and ligand."""

    rank: int
    affinity: float
    ligand: str


class StructureScene(Resource):
    object: Literal["structure_scene"]
    #: How the structures are coloured: by pLDDT (B-factor), or by chain.
    colour: Literal["plddt", "chain"]
    structures: list[SceneStructure]
    poses_file: str | None
    poses: list[ScenePose]

    @property
    def files(self) -> list[str]:
        """Every file the scene draws."""
        names = [s.name for s in self.structures]
        return names + ([self.poses_file] if self.poses_file else [])


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def ranked_poses(rows: Sequence[Mapping[str, Any]]) -> list[ScenePose]:
    """Each pose once, best first, from rows that give its rank and affinity."""
    ranked: dict[int, ScenePose] = {}
    for row in rows:
        rank, affinity = row.get("pose"), _number(row.get("affinity"))
        if isinstance(rank, int) and affinity is not None and rank not in ranked:
            ranked[rank] = ScenePose.model_construct(
                rank=rank, affinity=affinity, ligand=str(row.get("ligand") or "")
            )
    return [ranked[rank] for rank in sorted(ranked)]


def _structure(file: Mapping[str, Any], label: str, rank: int | None, plddt: float | None) -> Any:
    return SceneStructure.model_construct(
        name=file["name"],
        format=VIEWER_FORMATS[file["format"].lower()],
        label=label,
        rank=rank,
        mean_plddt=plddt,
    )


def docking(
    files: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, Any], Mapping[str, Any], list[ScenePose]] | None:
    """The receptor file, the poses file and the ranked poses of a result that
    holds docked poses: an SD file of them, rows giving each pose's rank and
    affinity, and a receptor, the first whole structure that is not the same poses
    in another format (``poses.pdbqt``)."""
    poses = next((f for f in files if f["format"].lower() in POSE_FORMATS), None)
    ranked = ranked_poses(rows)
    if poses is None or not ranked:
        return None
    stem = PurePath(poses["name"]).stem
    receptor = next(
        (
            f
            for f in files
            if f["format"].lower() in MACROMOLECULE_FORMATS and PurePath(f["name"]).stem != stem
        ),
        None,
    )
    if receptor is None:
        return None
    return receptor, poses, ranked


def scene_of(
    files: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    fields: Mapping[str, Any],
) -> StructureScene | None:
    """The scene of a result (its ``files`` as name and format, its ``rows`` and
    ``fields``), or None when it holds no structure."""
    docked = docking(files, rows)
    if docked is not None:
        receptor, poses, ranked = docked
        return StructureScene.model_construct(
            object="structure_scene",
            colour="chain",
            structures=[_structure(receptor, f"Receptor ({receptor['name']})", None, None)],
            poses_file=poses["name"],
            poses=ranked,
        )
    plddt = PLDDT_FIELD in fields
    by_name = {f["name"]: f for f in files}
    structures = []
    # A prediction's rows name each model's structure, best first.
    for row in rows:
        file = by_name.get(row.get("structure"))
        if file is None or file["format"].lower() not in MACROMOLECULE_FORMATS:
            continue
        rank = row.get("rank") if isinstance(row.get("rank"), int) else None
        mean = _number(row.get(PLDDT_FIELD))
        label = f"Model {rank}" if rank is not None else file["name"]
        label += f" ({row['model']})" if row.get("model") else ""
        label += f", mean pLDDT {mean:.1f}" if mean is not None else ""
        structures.append(_structure(file, label, rank, mean))
    if not structures:
        shown = [f for f in files if f["format"].lower() in MACROMOLECULE_FORMATS]
        shown = shown or [f for f in files if f["format"].lower() in VIEWER_FORMATS]
        mean = _number(fields.get(PLDDT_FIELD)) if len(shown) == 1 else None
        for file in shown:
            label = file["name"] + (f", mean pLDDT {mean:.1f}" if mean is not None else "")
            structures.append(_structure(file, label, None, mean))
    if not structures:
        return None
    return StructureScene.model_construct(
        object="structure_scene",
        colour="plddt" if plddt else "chain",
        structures=structures,
        poses_file=None,
        poses=[],
    )


def job_scene(job: Job) -> StructureScene | None:
    """The scene of a job's result (None before it has one, or with no structure)."""
    from .jobs import ToolResult

    result = job.result
    if not isinstance(result, ToolResult):
        return None
    files = [{"name": f.name, "format": f.format} for f in result.files]
    return scene_of(files, result.rows, result.fields)
