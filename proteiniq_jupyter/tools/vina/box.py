"""The docking box: given in the settings, around a reference ligand, or around
receptor residues, with padding; checked to fit Vina's grid and to hold the receptor."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rdkit import Chem

from ...jobs.model import JobInput, JsonDict
from ..molecule import check_v2000, rdkit_log, split_sdf
from ..parsing import ErrorList, fail, split_lines
from ..structure import check_pdb_text
from .receptor import PdbAtom, Point, pdb_atoms
from .settings import MAX_BOX_SIDE, SDF_FORMATS, VinaSettings, settings_error


@dataclass(frozen=True)
class Box:
    """Vina's search box: centre and edge lengths in Å."""

    center: Point
    size: Point

    @classmethod
    def around(cls, points: Sequence[Point], padding: float) -> Box:
        """The axis-aligned box enclosing ``points`` with ``padding`` on every side,
        centred on the middle of their extent (as meeko's ``calc_box`` does) so that
        an off-centre atom cannot poke out."""
        lows = [min(p[axis] for p in points) for axis in range(3)]
        highs = [max(p[axis] for p in points) for axis in range(3)]
        return cls(
            center=(
                round((lows[0] + highs[0]) / 2, 3),
                round((lows[1] + highs[1]) / 2, 3),
                round((lows[2] + highs[2]) / 2, 3),
            ),
            size=(
                round(highs[0] - lows[0] + 2 * padding, 3),
                round(highs[1] - lows[1] + 2 * padding, 3),
                round(highs[2] - lows[2] + 2 * padding, 3),
            ),
        )

    def contains(self, point: Point) -> bool:
        return all(abs(point[i] - self.center[i]) <= self.size[i] / 2 for i in range(3))

    def to_fields(self) -> JsonDict:
        return {
            "box_center_x": self.center[0],
            "box_center_y": self.center[1],
            "box_center_z": self.center[2],
            "box_size_x": self.size[0],
            "box_size_y": self.size[1],
            "box_size_z": self.size[2],
        }


def docking_box(
    references: Sequence[tuple[int, JobInput]],
    options: VinaSettings,
    atoms: Sequence[PdbAtom],
    *,
    checked: bool = False,
) -> tuple[Box, str]:
    """The box and where it came from (settings, reference_ligand or box_residues):
    exactly one source, each side within Vina's grid, and (unless ``checked``) some
    receptor atom inside."""
    names = ("center_x", "center_y", "center_z", "size_x", "size_y", "size_z")
    values = {name: getattr(options, name) for name in names}
    given = [name for name in names if values[name] is not None]
    sources = [
        label
        for label, present in (
            ("the box centre and size in the settings", bool(given)),
            ("a reference ligand", bool(references)),
            ("box_residues", bool(options.box_residues)),
        )
        if present
    ]
    if not sources:
        settings_error(
            "no docking box: give its centre and size (center_x, center_y, center_z, "
            "size_x, size_y, size_z), a reference ligand (input slot "
            "'reference_ligand'), or receptor residues (box_residues)",
            "settings",
        )
    if len(sources) > 1:
        settings_error(f"give exactly one box source; got {' and '.join(sources)}", "settings")
    if given:
        missing = [name for name in names if values[name] is None]
        if missing:
            settings_error(
                "the box needs center_x, center_y, center_z, size_x, size_y and "
                f"size_z together; missing {', '.join(missing)}",
                f"settings.{missing[0]}",
            )
        numbers = [float(values[name]) for name in names]
        box = Box(
            center=(numbers[0], numbers[1], numbers[2]),
            size=(numbers[3], numbers[4], numbers[5]),
        )
        source, what = "settings", "the box"
    elif references:
        index, reference = references[0]
        box = Box.around(reference_points(reference, index), options.padding)
        source, what = "reference_ligand", "the box around the reference ligand"
    else:
        box = Box.around(residue_points(atoms, options.box_residues or []), options.padding)
        source, what = "box_residues", "the box around box_residues"
    for axis, side in zip("xyz", box.size, strict=True):
        if not 0 < side <= MAX_BOX_SIDE:
            settings_error(
                f"{what} is {side:g} Å along {axis}; each side must be more than 0 "
                f"and at most {MAX_BOX_SIDE:g} Å (change padding or the box)",
                "settings.padding" if source != "settings" else f"settings.size_{axis}",
            )
    if not checked and not any(box.contains(atom.position) for atom in atoms):
        settings_error(
            f"{what} (centre {_point(box.center)}, size {_point(box.size)} Å) holds no "
            f"receptor atom; the receptor spans {_extent(atoms)}",
            "settings",
        )
    return box, source


def reference_points(item: JobInput, index: int) -> list[Point]:
    """The atom positions of a reference ligand (mol2, SDF/mol, PDB or PDBQT); only
    its first molecule counts."""
    text = item.content
    declared = item.format.lower()
    if declared == "mol2" or (not declared and "@<TRIPOS>" in text):
        points = _mol2_points(text, index, item.slot_id)
    elif declared in SDF_FORMATS or (not declared and "M  END" in text):
        points = _sdf_points(text, index, item.slot_id)
    else:
        errors = ErrorList(index=index, slot=item.slot_id)
        check_pdb_text(text, errors)
        errors.raise_if_any()
        points = [atom.position for atom in pdb_atoms(text)]
    if not points:
        fail("the reference ligand has no atoms", index=index, slot=item.slot_id)
    return points


def _mol2_points(text: str, index: int, slot: str) -> list[Point]:
    points: list[Point] = []
    in_atoms = False
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if stripped.startswith("@<TRIPOS>"):
            if in_atoms or (points and stripped == "@<TRIPOS>MOLECULE"):
                break
            in_atoms = stripped == "@<TRIPOS>ATOM"
            continue
        if not in_atoms or not stripped:
            continue
        fields = stripped.split()
        try:
            x, y, z = (float(v) for v in fields[2:5])
        except ValueError:
            x = y = z = math.nan
        if len(fields) < 6 or not all(math.isfinite(v) for v in (x, y, z)):
            fail(
                f"line {number}: a mol2 atom line needs id, name, x, y, z and type; "
                f"got {stripped!r}",
                index=index,
                slot=slot,
                line=number,
            )
        points.append((x, y, z))
    if not points and "@<TRIPOS>ATOM" not in text:
        fail("the mol2 file has no @<TRIPOS>ATOM section", index=index, slot=slot)
    return points


def _sdf_points(text: str, index: int, slot: str) -> list[Point]:
    records = split_sdf(text)
    if not records:
        fail("the reference ligand's SD file is empty", index=index, slot=slot)
    errors = ErrorList(index=index, slot=slot)
    if not check_v2000(records[0], errors):
        errors.raise_if_any()
    with rdkit_log():
        mol = Chem.MolFromMolBlock(records[0].block(), sanitize=False, removeHs=False)
    if mol is None or not mol.GetNumConformers():
        fail(f"{records[0].place}: RDKit cannot read the molecule", index=index, slot=slot)
    return [(float(x), float(y), float(z)) for x, y, z in mol.GetConformer().GetPositions()]


def residue_points(atoms: Sequence[PdbAtom], residues: Iterable[str]) -> list[Point]:
    """The positions of the named residues' atoms; an unknown residue is an error
    naming it and what the receptor has instead."""
    wanted = [_normalise_residue(r) for r in residues]
    by_residue: dict[str, list[Point]] = {}
    for atom in atoms:
        by_residue.setdefault(atom.residue, []).append(atom.position)
    missing = [r for r in wanted if r not in by_residue]
    if missing:
        chains = sorted({atom.chain or "(blank)" for atom in atoms})
        settings_error(
            f"box_residues: the receptor has no residue {', '.join(missing)} (residues are "
            f"named chain:number, e.g. {atoms[0].residue}; chains here: {', '.join(chains)})",
            "settings.box_residues",
        )
    return [point for r in wanted for point in by_residue[r]]


def _normalise_residue(residue: str) -> str:
    chain, _, rest = residue.strip().partition(":")
    digits = rest.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    return f"{chain}:{int(digits)}{rest[len(digits) :]}"


def _point(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def _extent(atoms: Sequence[PdbAtom]) -> str:
    spans = []
    for axis, name in enumerate("xyz"):
        low = min(a.position[axis] for a in atoms)
        high = max(a.position[axis] for a in atoms)
        spans.append(f"{name} {low:.1f} to {high:.1f}")
    return ", ".join(spans) + " Å"
