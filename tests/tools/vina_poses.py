"""Vina's own output, read here independently of the product: the models of the
``poses.pdbqt`` a docking job writes (the text Vina's ``poses()`` returned), with
the affinity and RMSD bounds Vina put on each, and the RMSDs recomputed from the
coordinates the way Vina defines them (AutoDock Vina 1.2, src/lib/model.cpp,
``rmsd_lower_bound_asymmetric``; src/lib/common.h ``rmsd_upper_bound``):

- ``rmsd_ub``: the plain RMSD over the non-hydrogen atoms, atom i against atom i;
- ``rmsd_lb``: each non-hydrogen atom against the nearest atom of the same element
  in the other pose, the larger of the two directions.

Both are measured from the best pose (the first model)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rdkit import Chem
from scipy.optimize import linear_sum_assignment

#: AutoDock atom types that are not an element's symbol; G0-G3 are the pseudo atoms
#: that close a macrocycle opened for docking (no atom of the molecule).
AD_ELEMENTS = {
    "A": "C",
    "NA": "N",
    "NS": "N",
    "OA": "O",
    "OS": "O",
    "SA": "S",
    "HD": "H",
    "HS": "H",
    **{f"CG{n}": "C" for n in range(4)},
    **{f"G{n}": "G" for n in range(4)},
}
_RESULT = re.compile(r"REMARK VINA RESULT:\s+(\S+)\s+(\S+)\s+(\S+)")
#: Coordinates are written with three decimals.
COORDINATE_TOLERANCE = 2e-3
#: Vina measures on its own coordinates and prints three decimals; the RMSDs here
#: are measured on those printed coordinates.
RMSD_TOLERANCE = 5e-3


@dataclass(frozen=True)
class VinaModel:
    """One MODEL of Vina's output: its REMARK values and its non-hydrogen atoms."""

    affinity: float
    rmsd_lb: float
    rmsd_ub: float
    elements: tuple[str, ...]
    positions: Any  # numpy array, one row per atom

    def molecule_atoms(self) -> tuple[list[str], Any]:
        """The atoms that are atoms of the docked molecules (no pseudo atoms)."""
        keep = [i for i, element in enumerate(self.elements) if element != "G"]
        return [self.elements[i] for i in keep], self.positions[keep]


def vina_models(pdbqt: str) -> list[VinaModel]:
    models: list[VinaModel] = []
    for block in pdbqt.split("ENDMDL")[:-1]:
        [result] = _RESULT.findall(block)
        elements: list[str] = []
        positions: list[tuple[float, float, float]] = []
        for line in block.splitlines():
            if not line.startswith(("ATOM", "HETATM")):
                continue
            ad_type = line[77:].split()[0]
            element = AD_ELEMENTS.get(ad_type, ad_type)
            if element == "H":
                continue
            elements.append(element)
            positions.append((float(line[30:38]), float(line[38:46]), float(line[46:54])))
        affinity, lower, upper = (float(v) for v in result)
        models.append(VinaModel(affinity, lower, upper, tuple(elements), np.array(positions)))
    return models


def rmsd_bounds(pose: VinaModel, best: VinaModel) -> tuple[float, float]:
    """(lower, upper) RMSD bound of ``pose`` from ``best``, as Vina defines them."""
    assert pose.elements == best.elements
    a, b = pose.positions, best.positions
    upper = float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()))
    same = np.array(pose.elements)[:, None] == np.array(best.elements)[None, :]
    squared = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)
    squared = np.where(same, squared, np.inf)
    one_way = float(np.sqrt(squared.min(axis=1).mean()))
    other_way = float(np.sqrt(squared.min(axis=0).mean()))
    return max(one_way, other_way), upper


def heavy_atoms(mols: Sequence[Chem.Mol]) -> tuple[list[str], Any]:
    elements: list[str] = []
    positions: list[Any] = []
    for mol in mols:
        coordinates = mol.GetConformer().GetPositions()
        for atom, position in zip(mol.GetAtoms(), coordinates, strict=True):
            if atom.GetAtomicNum() > 1:
                elements.append(atom.GetSymbol())
                positions.append(position)
    return elements, np.array(positions)


def assert_same_atoms(
    elements: Sequence[str], positions: Any, other_elements: Sequence[str], other: Any
) -> None:
    """The two sets of atoms are one and the same: every atom has a partner of the
    same element at the same place (matched one to one, in any order)."""
    assert sorted(elements) == sorted(other_elements)
    distance = np.linalg.norm(positions[:, None, :] - other[None, :, :], axis=-1)
    mismatch = np.array(elements)[:, None] != np.array(other_elements)[None, :]
    distance = np.where(mismatch, 1e6, distance)
    rows, columns = linear_sum_assignment(distance)
    assert distance[rows, columns].max() <= COORDINATE_TOLERANCE, distance[rows, columns].max()


def assert_poses_are_vinas(workdir: Path, rows: Sequence[dict[str, Any]]) -> list[VinaModel]:
    """Every pose of ``poses.sdf`` has the coordinates of the matching model of Vina's
    ``poses.pdbqt`` (the same rank), and every pose's RMSD from the best pose, measured
    here, agrees with the bounds Vina reported and the job's rows repeat."""
    models = vina_models((workdir / "poses.pdbqt").read_text())
    assert len(models) == len(rows)
    records = list(Chem.SDMolSupplier(str(workdir / "poses.sdf"), removeHs=False))
    for rank, (model, row) in enumerate(zip(models, rows, strict=True), start=1):
        pose = [mol for mol in records if mol.GetProp("pose") == str(rank)]
        assert pose, f"no SD record for pose {rank}"
        assert_same_atoms(*heavy_atoms(pose), *model.molecule_atoms())
        lower, upper = rmsd_bounds(model, models[0])
        assert lower == pytest.approx(model.rmsd_lb, abs=RMSD_TOLERANCE), (rank, model)
        assert upper == pytest.approx(model.rmsd_ub, abs=RMSD_TOLERANCE), (rank, model)
        assert lower <= upper + RMSD_TOLERANCE
        assert (row["affinity"], row["rmsd_lb"], row["rmsd_ub"]) == (
            model.affinity,
            model.rmsd_lb,
            model.rmsd_ub,
        )
    if len(models) > 1:
        assert any(model.rmsd_ub > 0 for model in models[1:]), "every pose is the same"
    return models
