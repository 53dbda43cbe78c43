"""The receptor as submitted: its atoms as the box reads them, and the checks at
submit that refuse, at no cost, a receptor that could not be prepared, naming the
residue and its line."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

from ...jobs.model import JobInput, JsonDict
from ...recent import Recent
from ..parsing import ErrorList, check_size, fail, split_lines
from ..structure import check_pdb_text
from ..structure_input import StructureInput, read_structure_input, structure_kind
from .residues import plan_receptor
from .settings import RECEPTOR_SLOT, VinaSettings

Point = tuple[float, float, float]


class PdbAtom(NamedTuple):
    """An atom of the first model, as far as the box needs it (a tuple: a receptor
    has thousands, read in every job)."""

    line: int
    hetero: bool
    chain: str
    residue: str  # meeko's key: chain:number plus insertion code
    resname: str
    position: Point


def pdb_atoms(text: str) -> list[PdbAtom]:
    """The atoms of the first model of a PDB or PDBQT text whose columns
    ``check_pdb_text`` has already checked."""
    atoms: list[PdbAtom] = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.startswith(("ATOM", "HETATM", "ENDMDL")):
            continue
        record = line[:6].rstrip()
        if record == "ENDMDL":
            break
        if record not in ("ATOM", "HETATM"):
            continue
        chain = line[21:22].strip()
        resseq = line[22:26].strip()
        with_number = str(int(resseq)) if resseq.lstrip("-").isdigit() else resseq
        atoms.append(
            PdbAtom(
                number,
                record == "HETATM",
                chain,
                f"{chain}:{with_number}{line[26:27].strip()}",
                line[17:20].strip(),
                (float(line[30:38]), float(line[38:46]), float(line[46:54])),
            )
        )
    return atoms


def structure_atoms(source: StructureInput) -> list[PdbAtom]:
    """The atoms of the first model of a structure read by gemmi (an mmCIF receptor)."""
    atoms: list[PdbAtom] = []
    for chain, residue in source.residues():
        line = source.line_of(chain, residue) or 0
        key = f"{chain}:{residue.seqid.num}{residue.seqid.icode.strip()}"
        hetero = residue.het_flag == "H"
        for atom in residue:
            position = (atom.pos.x, atom.pos.y, atom.pos.z)
            atoms.append(PdbAtom(line, hetero, chain, key, residue.name, position))
    return atoms


def receptor_atoms(item: JobInput, index: int, max_atoms: int) -> list[PdbAtom]:
    """The atoms of a receptor that passed its checks, PDB or mmCIF."""
    if receptor_format(item) == "mmcif":
        return structure_atoms(read_structure_input(item, index, max_atoms))
    return pdb_atoms(item.content)


#: The atoms of the last few receptors whose records passed their checks, by the
#: text's digest and the settings that decide what is kept: a docking campaign
#: submits one receptor with every ligand, and need not read and check it again.
_WELL_FORMED_RECEPTORS: Recent[bytes, tuple[PdbAtom, ...]] = Recent(4)


def receptor_format(item: JobInput) -> str:
    """pdbqt for a receptor given prepared, else pdb or mmcif (to be prepared here)."""
    if item.format.lower() == "pdbqt":
        return "pdbqt"
    return structure_kind(item)


def check_receptor(
    item: JobInput, index: int, options: VinaSettings, limits: JsonDict
) -> Sequence[PdbAtom]:
    """The receptor's atoms, once its size, its records, its atom count and each of
    its residues pass; problems name their line."""
    check_size(item, index, limits["max_receptor_bytes"])
    errors = ErrorList(index=index, slot=RECEPTOR_SLOT)
    kind = receptor_format(item)

    def read_checked() -> tuple[PdbAtom, ...]:
        if kind == "pdbqt":
            check_pdb_text(item.content, errors)
            errors.raise_if_any()
            return tuple(pdb_atoms(item.content))
        source = read_structure_input(item, index, limits["max_receptor_atoms"])
        plan = plan_receptor(
            source,
            remove_heteroatoms=options.remove_heteroatoms,
            delete_bad_residues=options.delete_bad_residues,
        )
        for refusal in plan.refused:
            errors.add(refusal.message, line=refusal.line)
        errors.raise_if_any()
        if plan.kept == 0:
            hetero = " (waters, ions and ligands are left out: remove_heteroatoms)"
            fail(
                "no residue of the receptor is left to prepare"
                + (hetero if options.remove_heteroatoms else ""),
                index=index,
                slot=RECEPTOR_SLOT,
            )
        if kind == "mmcif":
            return tuple(structure_atoms(source))
        return tuple(pdb_atoms(item.content))

    material = f"{kind}:{options.remove_heteroatoms}:{options.delete_bad_residues}:"
    digest = hashlib.sha256(material.encode() + item.content.encode("utf-8")).digest()
    atoms = _WELL_FORMED_RECEPTORS.get_or_make(digest, read_checked)
    if not atoms:
        fail("the receptor has no atoms: there is no ATOM or HETATM record", index=index)
    if len(atoms) > limits["max_receptor_atoms"]:
        fail(
            f"the receptor has {len(atoms):,} atoms; the limit is {limits['max_receptor_atoms']:,}",
            index=index,
            slot=RECEPTOR_SLOT,
        )
    if kind == "pdbqt":
        lines = split_lines(item.content)
        for atom in atoms:
            if not lines[atom.line - 1][77:80].strip():
                errors.add(
                    f"line {atom.line}, characters 78-79: the PDBQT atom has no AutoDock atom type",
                    line=atom.line,
                    column=78,
                )
                break
    errors.raise_if_any()
    return atoms
