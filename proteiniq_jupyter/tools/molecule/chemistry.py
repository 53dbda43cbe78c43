"""What the small-molecule tools share: RDKit's log captured as the reason for a
failure, the checks of a parsed molecule, a molecule's result row and its fields.

RDKit explains a failure only in its log, so parsing happens under a log capture
and the reason is handed to the user with the line and molecule it concerns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from rdkit import Chem, rdBase
from rdkit.Chem import rdMolDescriptors
from rdkit.Chem.Descriptors import MolWt  # type: ignore[attr-defined]  # missing from RDKit's type hints

from ...jobs.model import JsonDict
from ..base import OutputField

_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s?")


@contextmanager
def rdkit_log() -> Iterator[list[str]]:
    """Collect RDKit's error log while the block runs; the list is filled on exit.

    Uses ``rdBase.CaptureErrorLog`` where this RDKit has it; otherwise logging is
    only silenced and callers fall back on their own wording.
    """
    messages: list[str] = []
    capture_class = getattr(rdBase, "CaptureErrorLog", None)
    if capture_class is None:
        blocker = rdBase.BlockLogs()
        try:
            yield messages
        finally:
            del blocker
        return
    with capture_class() as capture:
        yield messages
    for line in str(capture.messages).splitlines():
        line = _TIMESTAMP.sub("", line).strip()
        if line:
            messages.append(line)


def summarise_log(messages: list[str], limit: int = 3) -> str:
    """The informative lines of an RDKit log, without echoes, carets or stack traces."""
    kept: list[str] = []
    for line in messages:
        if line.startswith(("Stacktrace", "----------", "Violation occurred")):
            break
        text = line.removeprefix("SMILES Parse Error:").strip()
        if not text or text.strip("*~^ ") == "" or text.startswith("Failed parsing SMILES"):
            continue
        if text.startswith("check for mistakes around position"):
            continue
        if kept and text in kept[-1]:
            continue
        if text not in kept:
            kept.append(text)
        if len(kept) >= limit:
            break
    return "; ".join(kept)


def chemistry_problems(mol: Chem.Mol) -> list[tuple[str, tuple[int, ...]]]:
    """RDKit's sanitisation problems as (message, atom indices)."""
    with rdkit_log():
        problems = Chem.DetectChemistryProblems(mol)
    result: list[tuple[str, tuple[int, ...]]] = []
    for problem in problems:
        if hasattr(problem, "GetAtomIdx"):
            atoms: tuple[int, ...] = (int(problem.GetAtomIdx()),)
        elif hasattr(problem, "GetAtomIndices"):
            atoms = tuple(int(i) for i in problem.GetAtomIndices())
        else:
            atoms = ()
        result.append((str(problem.Message()), atoms))
    return result


def molecule_row(mol: Chem.Mol) -> JsonDict:
    """Formula, sizes and average molecular weight of a molecule."""
    return {
        "formula": rdMolDescriptors.CalcMolFormula(mol),
        "atoms": Chem.AddHs(mol).GetNumAtoms(),
        "heavy_atoms": mol.GetNumHeavyAtoms(),
        "molecular_weight": round(float(MolWt(mol)), 3),
    }


#: The fields of a molecule's result row (``molecule_row``).
MOLECULE_OUTPUTS = (
    OutputField("molecules", "molecules in the job"),
    OutputField("name", "molecule name (per-molecule rows)"),
    OutputField("smiles", "canonical isomeric SMILES"),
    OutputField("formula", "molecular formula"),
    OutputField("atoms", "atoms including hydrogens"),
    OutputField("heavy_atoms", "non-hydrogen atoms"),
    OutputField("molecular_weight", "average molecular weight", "g/mol"),
)
