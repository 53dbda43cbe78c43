"""Atoms of different residues so close that meeko reads them as bonded.

meeko bonds two atoms of different residues when they are closer than 1.2 times the
sum of their covalent radii (1.70 Å for O-O, 1.82 Å for C-C); a crystal contact
that close (a side chain modelled into its neighbour, an aspartate's oxygen 1.5 Å
from the carbonyl before it) leaves the residue matching none of meeko's templates.
Found here with gemmi's neighbour search over the heavy atoms of the first model,
in the plain coordinates (not the crystal's symmetry mates: meeko sees no cell),
so the checks at submit can plan a side chain's rebuilding or refuse the receptor
before any job exists.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import gemmi

from ..structure_input import ResidueKey, residue_id, residue_key

#: meeko's covalent radii (Å) of the elements a receptor's residues hold, and the
#: allowance it multiplies their sum by.
COVALENT_RADIUS = {
    "H": 0.31,
    "C": 0.76,
    "N": 0.71,
    "O": 0.66,
    "F": 0.57,
    "P": 1.07,
    "S": 1.05,
    "Cl": 1.02,
    "Se": 1.20,
    "Br": 1.20,
    "I": 1.39,
}
ALLOWANCE = 1.2
_SEARCH = ALLOWANCE * 2 * max(COVALENT_RADIUS.values())
#: The atoms a residue's side chain is built on: the rest can be placed again.
FRAME = frozenset({"N", "CA", "C", "O", "OXT", "CB"})
#: Hydrogens on the backbone and CB, which stay with the frame.
_FRAME_HYDROGENS = frozenset({"H", "H1", "H2", "H3", "HN", "HXT", "HA", "HA2", "HA3"})


def bond_cutoff(first: gemmi.Element, second: gemmi.Element) -> float | None:
    """The distance under which meeko bonds the two atoms; None for an element
    outside the table (metals: their coordination is not a clash)."""
    a, b = COVALENT_RADIUS.get(first.name), COVALENT_RADIUS.get(second.name)
    if a is None or b is None:
        return None
    return ALLOWANCE * (a + b)


@dataclass(frozen=True)
class Side:
    """One atom of a close contact and its residue."""

    chain: str
    residue: gemmi.Residue
    atom: str
    hydrogen: bool

    @property
    def key(self) -> ResidueKey:
        return residue_key(self.chain, self.residue)

    @property
    def label(self) -> str:
        return f"{residue_id(self.chain, self.residue)} ({self.residue.name})"

    def in_side_chain(self) -> bool:
        """Whether the atom lies past CB, where a rebuilt side chain puts it anew."""
        if self.hydrogen:
            return self.atom not in _FRAME_HYDROGENS and not self.atom.startswith("HB")
        return self.atom not in FRAME


@dataclass(frozen=True)
class Contact:
    first: Side
    second: Side
    distance: float
    cutoff: float

    def describe(self, side: Side) -> str:
        """'its OD1 is 1.50 Å from O of A:104 (SER)', seen from ``side``."""
        other = self.second if side is self.first else self.first
        return f"its {side.atom} is {self.distance:.2f} Å from {other.atom} of {other.label}"


def close_contacts(
    model: gemmi.Model, skip: Collection[ResidueKey] = (), *, hydrogens: bool = False
) -> list[Contact]:
    """Pairs of atoms of different residues closer than meeko's bonding distance,
    leaving out the bonds a chain is meant to have (a peptide bond C-N, a disulfide
    SG-SG) and residues in ``skip``."""
    search = gemmi.NeighborSearch(model, gemmi.UnitCell(), 5).populate(include_h=hydrogens)
    finder = gemmi.ContactSearch(_SEARCH)
    finder.ignore = gemmi.ContactSearch.Ignore.SameResidue
    found: list[Contact] = []
    for hit in finder.find_contacts(search):
        one, two = hit.partner1, hit.partner2
        names = {one.atom.name, two.atom.name}
        if (names == {"C", "N"} and one.chain.name == two.chain.name) or names == {"SG"}:
            continue
        cutoff = bond_cutoff(one.atom.element, two.atom.element)
        if cutoff is None or hit.dist >= cutoff:
            continue
        first = Side(one.chain.name, one.residue, one.atom.name, one.atom.is_hydrogen())
        second = Side(two.chain.name, two.residue, two.atom.name, two.atom.is_hydrogen())
        if first.key in skip or second.key in skip:
            continue
        found.append(Contact(first, second, hit.dist, cutoff))
    return found
