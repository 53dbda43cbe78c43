"""What every part of the Vina tool shares: the ids and formats of its input slots,
its settings, and the errors that name a problem with either."""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic

from ...jobs.errors import ValidationError

#: Vina's grid holds at most 126 Å along each axis at its default 0.375 Å spacing.
MAX_BOX_SIDE = 126.0

RECEPTOR_SLOT = "receptor"
LIGANDS_SLOT = "ligands"
REFERENCE_SLOT = "reference_ligand"
SMILES_FORMATS = ("smiles", "smi")
SDF_FORMATS = ("sdf", "mol")

ResidueId = Annotated[
    str,
    pydantic.StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9]?:-?\d{1,4}[A-Za-z]?$"),
]


class PreparationError(ValueError):
    """A receptor or ligand that meeko or RDKit cannot make ready for Vina."""


class VinaSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    mode: Literal["single", "simultaneous"] = pydantic.Field(
        "single",
        description="single: one ligand per job (several ligands go in as a batch, one "
        "job each); simultaneous: 2 or more ligands docked together into the same box",
    )
    center_x: float | None = pydantic.Field(
        None, ge=-10_000, le=10_000, description="box centre, x (Å); give with the other five"
    )
    center_y: float | None = pydantic.Field(
        None, ge=-10_000, le=10_000, description="box centre, y (Å)"
    )
    center_z: float | None = pydantic.Field(
        None, ge=-10_000, le=10_000, description="box centre, z (Å)"
    )
    size_x: float | None = pydantic.Field(
        None, gt=0, le=MAX_BOX_SIDE, description="box edge along x (Å)"
    )
    size_y: float | None = pydantic.Field(
        None, gt=0, le=MAX_BOX_SIDE, description="box edge along y (Å)"
    )
    size_z: float | None = pydantic.Field(
        None, gt=0, le=MAX_BOX_SIDE, description="box edge along z (Å)"
    )
    box_residues: list[ResidueId] | None = pydantic.Field(
        None,
        min_length=1,
        max_length=100,
        description="box around these receptor residues, as 'chain:number' (':number' "
        "when the chain has no name), plus padding",
        examples=[["A:32", "A:228"]],
    )
    padding: float = pydantic.Field(
        4.0,
        ge=0,
        le=20,
        description="Å added on every side of the reference ligand's or the residues' "
        "extent to make the box",
    )
    exhaustiveness: int = pydantic.Field(
        8, ge=1, le=64, description="independent Monte Carlo runs; more is slower and surer"
    )
    num_poses: int = pydantic.Field(9, ge=1, le=20, description="poses reported at most")
    energy_range: float = pydantic.Field(
        3.0, gt=0, le=10, description="poses at most this far above the best (kcal/mol)"
    )
    seed: int = pydantic.Field(
        42,
        ge=0,
        le=2**31 - 1,
        description="seed of Vina's search: the same inputs, settings and seed give the "
        "same poses; 0 lets Vina pick one at random (the seed used is in the results)",
    )
    scoring: Literal["vina", "vinardo"] = pydantic.Field("vina", description="scoring function")
    remove_heteroatoms: bool = pydantic.Field(
        True,
        description="leave out the receptor's waters, ions and bound ligands before "
        "preparation (modified residues of its chains stay); the receptor's first "
        "model is used",
    )
    delete_bad_residues: bool = pydantic.Field(
        False,
        description="leave out receptor residues that cannot be prepared (unknown to "
        "meeko and PDBFixer, or too incomplete to repair) instead of refusing the receptor",
    )
    ph: float = pydantic.Field(
        7.4,
        ge=0,
        le=14,
        description="pH at which PDBFixer adds the receptor's missing hydrogens (its "
        "protonation states); hydrogens the file has are kept",
    )


def settings_error(message: str, field: str) -> None:
    """Refuse the request, naming the setting at fault (``field``)."""
    raise ValidationError(message, errors=[{"field": field, "message": message}])
