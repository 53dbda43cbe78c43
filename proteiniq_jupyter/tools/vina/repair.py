"""The receptor made whole before meeko reads it, as careful users do: what the plan
leaves out removed, modified residues replaced by their standard parents, missing
heavy atoms placed and hydrogens added at the chosen pH by PDBFixer (with OpenMM).

PDBFixer is imported here only, when a receptor is prepared (a prepared receptor
is cached, so a docking campaign pays for it once). It never reaches the network:
PDBFixer would download the definition of a residue it does not know, and a job
must not depend on that.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from ..structure_input import ResidueKey, StructureInput
from .residues import ReceptorPlan
from .side_chains import settle_side_chains

JsonReport = dict[str, list[str]]
#: The atoms a rebuilt residue keeps: their places do not depend on its rotamer.
_FRAME = ("N", "CA", "C", "O", "OXT", "CB")


@dataclass
class RepairReport:
    """What preparation changed, residue by residue, for the job's result."""

    repaired: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def to_json(self) -> JsonReport:
        return {"repaired": self.repaired, "replaced": self.replaced, "left_out": self.left_out}

    @classmethod
    def from_json(cls, data: JsonReport) -> RepairReport:
        return cls(
            list(data.get("repaired", [])),
            list(data.get("replaced", [])),
            list(data.get("left_out", [])),
        )


def _label(key: ResidueKey, name: str) -> str:
    chain, number, icode = key
    return f"{chain}:{number}{icode} ({name})"


def cleaned_pdb(
    source: StructureInput,
    plan: ReceptorPlan,
    rebuild: set[ResidueKey],
    truncate: set[ResidueKey] | None = None,
) -> tuple[str, bool]:
    """The first model without the residues the plan leaves out, as a plain PDB text
    (one block per residue, as PDBFixer and meeko read it), and whether every residue
    in it has hydrogens.

    A residue PDBFixer completes, or one in ``rebuild``, keeps only its backbone and
    CB: PDBFixer lays its template on the atoms a residue has, and a side chain
    kept in part (in another rotamer than the template's) would leave the new atoms
    strained against it. The side chain is built whole from CB instead. A residue in
    ``truncate`` keeps its backbone and CB as alanine: no side chain at all."""
    truncate = truncate or set()
    structure = source.structure.clone()
    model = structure[0]
    for chain in model:
        for position in range(len(chain) - 1, -1, -1):
            residue = chain[position]
            key = (chain.name, residue.seqid.num, residue.seqid.icode.strip())
            if key in plan.left_out:
                del chain[position]
            elif key in rebuild or key in plan.incomplete or key in truncate:
                if key in truncate:
                    residue.name = "ALA"
                for index in range(len(residue) - 1, -1, -1):
                    if residue[index].name not in _FRAME:
                        del residue[index]
    structure.remove_empty_chains()
    if any(len(chain.name) > 1 for chain in model):
        structure.shorten_chain_names()
    if rebuild or truncate:
        structure.remove_hydrogens()
    # Without its crystal cell: PDBFixer would place atoms in a periodic box, and a
    # file's cell may be a placeholder (all zeros) or smaller than the molecule.
    text = str(structure.make_minimal_pdb())
    protonated = all(
        any(atom.is_hydrogen() for atom in residue) for chain in model for residue in chain
    )
    kept = "".join(line for line in text.splitlines(True) if not line.startswith("CRYST1"))
    return kept, protonated


def repair(
    source: StructureInput,
    plan: ReceptorPlan,
    ph: float,
    rebuild: set[ResidueKey] | None = None,
    truncate: set[ResidueKey] | None = None,
) -> tuple[str, RepairReport]:
    """The receptor as PDB with its missing heavy atoms and hydrogens added, and what
    was changed. A receptor with nothing to complete (every residue whole and with
    its hydrogens, as a protonated tutorial receptor is) goes on as it is, without
    loading PDBFixer."""
    rebuild = rebuild or set()
    truncate = truncate or set()
    report = RepairReport()
    waters = 0
    for key, why in plan.left_out.items():
        if why == "water":
            waters += 1
        else:
            report.left_out.append(f"{plan.labels.get(key, _label(key, '?'))}: {why}")
    if waters:
        report.left_out.append(f"{waters} water{'s' if waters > 1 else ''}")
    for key in sorted(truncate):
        report.left_out.append(
            f"{plan.labels.get(key, _label(key, '?'))}: side chain past CB "
            "(no place for it clear of its neighbours; prepared as ALA)"
        )
    cleaned, protonated = cleaned_pdb(source, plan, rebuild, truncate)
    if protonated and not (plan.incomplete or plan.replaced or rebuild or truncate):
        return cleaned, report

    from openmm.app import PDBFile
    from pdbfixer import PDBFixer

    class OfflineFixer(PDBFixer):  # type: ignore[misc]
        def _downloadCCDDefinition(self, residueName: str) -> None:
            return None

        def _findNearestDistance(self, *args: Any) -> float:
            # PDBFixer meets a close contact of a new atom with a run of dynamics,
            # which takes tens of seconds and bends side chains; settle_side_chains
            # resolves the contacts instead.
            return float("inf")

    fixer = OfflineFixer(pdbfile=io.StringIO(cleaned))
    fixer.missingResidues = {}
    fixer.nonstandardResidues = [
        (residue, plan.replaced[key])
        for residue in fixer.topology.residues()
        if (key := _key(residue)) in plan.replaced and key not in truncate
    ]
    for residue, parent in fixer.nonstandardResidues:
        report.replaced.append(f"{_label(_key(residue), residue.name)}: replaced by {parent}")
    fixer.replaceNonstandardResidues()
    fixer.findMissingAtoms()
    # A chain's missing terminal oxygen is left so: meeko takes the residue without it.
    fixer.missingTerminals = {}
    added: dict[ResidueKey, list[str]] = {}
    names: dict[ResidueKey, str] = {}
    for residue, atoms in fixer.missingAtoms.items():
        added.setdefault(_key(residue), []).extend(atom.name for atom in atoms)
        names[_key(residue)] = residue.name
    for key, atoms in added.items():
        listed = ", ".join(atoms)
        if key in rebuild or key in plan.incomplete:
            why = f"; as submitted, {plan.crowded[key]}" if key in plan.crowded else ""
            report.repaired.append(f"{_label(key, names[key])}: side chain rebuilt ({listed}){why}")
        else:
            report.repaired.append(f"{_label(key, names[key])}: {listed} added")
    fixer.addMissingAtoms(seed=1)
    settle_side_chains(fixer, set(added))
    if not protonated:
        fixer.addMissingHydrogens(pH=ph)
    out = io.StringIO()
    PDBFile.writeFile(fixer.topology, fixer.positions, out, keepIds=True)
    return out.getvalue(), report


def _key(residue: Any) -> ResidueKey:
    return (str(residue.chain.id), int(residue.id), str(residue.insertionCode).strip())
