"""What happens to each residue of a receptor, decided from the structure alone (no
OpenMM, no meeko: the residue names come from the package's own table), so the same
file gets the same answer wherever it is submitted, and the same decision refuses a
receptor at submit and guides its preparation in the job.

- waters, ions and bound ligands are left out (unless ``remove_heteroatoms`` is
  false and meeko has a template for them);
- a standard amino acid missing heavy atoms is repaired by PDBFixer, which places
  the missing atoms on its backbone: without N, CA and C it cannot be placed;
- a modified amino acid meeko has no template for is replaced by its standard parent
  (MSE by MET, CAS by CYS, ...: ``residue_table``);
- a side chain so close to another residue that meeko would read a bond is built
  anew from CB; such a contact between atoms that stay (backbone, CB, a kept
  ligand) is refused, naming both residues (``contacts``);
- anything else is refused, naming the residue and its line, or left out with
  ``delete_bad_residues``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import gemmi

from ..structure_input import ResidueKey, StructureInput, residue_id, residue_key
from .contacts import close_contacts
from .residue_table import MEEKO_TEMPLATES, modified_parent

#: Amber and CHARMM names a tutorial's receptor may use for protonation states;
#: PDBFixer (OpenMM's reader) reads them as the standard residue.
_ALIASES = {
    "HID": "HIS",
    "HIE": "HIS",
    "HIP": "HIS",
    "HSD": "HIS",
    "HSE": "HIS",
    "HSP": "HIS",
    "CYX": "CYS",
    "CYM": "CYS",
    "ASH": "ASP",
    "GLH": "GLU",
    "LYN": "LYS",
}
_BACKBONE = ("N", "CA", "C")
_ONE_LETTER = "ACDEFGHIKLMNPQRSTVWY"
_NUCLEIC = {"A", "C", "G", "U", "I", "DA", "DC", "DG", "DT", "DI"}


@functools.cache
def amino_acid_atoms() -> dict[str, frozenset[str]]:
    """The heavy atoms of each standard amino acid in a chain (without the terminal
    OXT), by their PDB names, from RDKit's own residue builder."""
    from rdkit import Chem

    atoms: dict[str, frozenset[str]] = {}
    for letter in _ONE_LETTER:
        mol = Chem.MolFromSequence(letter)
        names = {atom.GetPDBResidueInfo().GetName().strip() for atom in mol.GetAtoms()}
        name = mol.GetAtomWithIdx(0).GetPDBResidueInfo().GetResidueName().strip()
        atoms[name] = frozenset(names - {"OXT"})
    return atoms


def standard_name(name: str) -> str:
    return _ALIASES.get(name, name)


@dataclass(frozen=True)
class Refusal:
    message: str
    line: int | None


@dataclass
class ReceptorPlan:
    """The decision for each residue that is not kept as it is."""

    #: residues left out, each with why ("water", "ligand", "cannot be repaired: ...")
    left_out: dict[ResidueKey, str] = field(default_factory=dict)
    #: modified residues replaced by their standard parent
    replaced: dict[ResidueKey, str] = field(default_factory=dict)
    #: residues that cannot be prepared (refused unless delete_bad_residues)
    refused: list[Refusal] = field(default_factory=list)
    #: residues missing heavy atoms, which PDBFixer completes (their hydrogens placed anew)
    incomplete: set[ResidueKey] = field(default_factory=set)
    #: residues whose side chain lies so close to another residue that meeko would
    #: read a bond: their side chains are built anew from CB (why, for the report)
    crowded: dict[ResidueKey, str] = field(default_factory=dict)
    #: amino acids kept, whose side chains can be built anew or left out past CB
    side_chains: set[ResidueKey] = field(default_factory=set)
    #: the same residues' keys, for leaving them out instead
    refused_keys: dict[ResidueKey, str] = field(default_factory=dict)
    labels: dict[ResidueKey, str] = field(default_factory=dict)
    kept: int = 0

    def refuse(self, source: StructureInput, chain: str, residue: gemmi.Residue, why: str) -> None:
        key = residue_key(chain, residue)
        self.refused.append(
            Refusal(f"{source.place(chain, residue)}: {why}", source.line_of(chain, residue))
        )
        self.refused_keys[key] = why
        self.labels[key] = f"{residue_id(chain, residue)} ({residue.name})"


def plan_receptor(
    source: StructureInput, *, remove_heteroatoms: bool, delete_bad_residues: bool
) -> ReceptorPlan:
    """Decide, for each residue of the first model, whether it is kept, repaired,
    replaced, left out or refused."""
    plan = ReceptorPlan()
    known = MEEKO_TEMPLATES
    standard = amino_acid_atoms()
    for chain, residue in source.residues():
        key = residue_key(chain, residue)
        plan.labels[key] = f"{residue_id(chain, residue)} ({residue.name})"
        name = standard_name(residue.name)
        polymer = residue.entity_type == gemmi.EntityType.Polymer
        if residue.is_water() or (not polymer and name not in standard):
            if remove_heteroatoms:
                plan.left_out[key] = "water" if residue.is_water() else "ligand or ion"
                continue
            if residue.name not in known:
                plan.refuse(
                    source,
                    chain,
                    residue,
                    "meeko has no template for it; leave heteroatoms out "
                    "(remove_heteroatoms), or remove it from the file",
                )
                continue
            plan.kept += 1
            continue
        if name in standard:
            _check_backbone(plan, source, chain, residue, standard[name])
            continue
        if residue.name in known:
            plan.kept += 1  # a modified residue meeko has a template for
            continue
        parent = modified_parent(residue.name)
        if parent is not None and parent in standard:
            plan.replaced[key] = parent
            _check_backbone(plan, source, chain, residue, standard[parent], replaced=True)
            continue
        if name in _NUCLEIC:
            plan.kept += 1
            continue
        plan.refuse(
            source,
            chain,
            residue,
            "it is not a standard residue and neither meeko nor PDBFixer knows it; "
            "remove it from the file, or set delete_bad_residues to leave it out",
        )
    _plan_contacts(plan, source)
    if delete_bad_residues:
        for key, why in plan.refused_keys.items():
            plan.left_out[key] = f"cannot be prepared: {why.split(';')[0]}"
        plan.refused = []
    return plan


def _plan_contacts(plan: ReceptorPlan, source: StructureInput) -> None:
    """Heavy atoms of different residues closer than meeko's bonding distance: a
    side chain's atom is placed anew (its side chain rebuilt from CB, a repair); a
    contact between atoms that stay where they are (backbone, CB, a kept ligand)
    cannot be repaired and refuses the first residue, naming both."""
    skip = set(plan.left_out) | set(plan.refused_keys)
    for contact in close_contacts(source.first_model(), skip):
        movable = [
            side
            for side in (contact.first, contact.second)
            if side.key in plan.side_chains and side.in_side_chain()
        ]
        for side in movable:
            plan.crowded.setdefault(side.key, contact.describe(side))
        if movable or contact.first.key in plan.refused_keys:
            continue
        plan.refuse(
            source,
            contact.first.chain,
            contact.first.residue,
            f"{contact.describe(contact.first)}, line "
            f"{source.line_of(contact.second.chain, contact.second.residue) or '?'}: "
            f"closer than {contact.cutoff:.2f} Å, which meeko reads as a bond, and neither "
            "atom is in a side chain that could be placed again; move or remove one of "
            "the two, or set delete_bad_residues to leave this one out",
        )


def _check_backbone(
    plan: ReceptorPlan,
    source: StructureInput,
    chain: str,
    residue: gemmi.Residue,
    expected: frozenset[str],
    *,
    replaced: bool = False,
) -> None:
    """A residue with all its heavy atoms is kept; one missing some is repaired when
    its backbone N, CA and C are there to place them on."""
    present = {atom.name for atom in residue if atom.element != gemmi.Element("H")}
    missing = expected - present
    if not missing and not replaced:
        plan.kept += 1
        plan.side_chains.add(residue_key(chain, residue))
        return
    absent = [name for name in _BACKBONE if name not in present]
    if absent and missing:
        have = ", ".join(sorted(present)) or "no heavy atom"
        plan.refuse(
            source,
            chain,
            residue,
            f"it has only {have}; its missing atoms cannot be placed without its "
            f"backbone {', '.join(absent)} (N, CA and C are needed); complete or "
            "remove the residue, or set delete_bad_residues to leave it out",
        )
        return
    plan.incomplete.add(residue_key(chain, residue))
    plan.side_chains.add(residue_key(chain, residue))
    plan.kept += 1
