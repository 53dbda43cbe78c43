"""What format an input is in, from a file's name or a ``pdb:ID`` reference, for
a slot that takes given formats: one rule for the command line and the notebook
client."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: File extensions that name a format other than themselves.
FORMAT_ALIASES = {
    "fa": "fasta",
    "faa": "fasta",
    "fas": "fasta",
    "fna": "fasta",
    "fsa": "fasta",
    "cif": "mmcif",
    "ent": "pdb",
    "smi": "smiles",
    "mol": "sdf",
    "txt": "text",
}
#: Formats that a slot taking plain text also reads.
READ_AS_TEXT = frozenset({"fasta", "smiles"})
#: How a structure input names a PDB entry to fetch instead of carrying its text.
PDB_PREFIX = "pdb:"


def extension(path: str | Path) -> str:
    return Path(path).suffix.lstrip(".").lower()


def slot_format(formats: Sequence[str], fmt: str) -> str | None:
    """``fmt`` (a format or a file extension) as a slot taking ``formats`` names
    it: itself, or a synonym of it the slot takes; ``text`` for FASTA or SMILES
    given to a text slot. None when the slot takes none of those (a slot that
    lists no formats takes any)."""
    if not formats or fmt in formats:
        return fmt
    canonical = FORMAT_ALIASES.get(fmt, fmt)
    if canonical in formats:
        return canonical
    for name, alias in FORMAT_ALIASES.items():
        if alias == canonical and name in formats:
            return name
    if canonical in READ_AS_TEXT and "text" in formats:
        return "text"
    return None


def pdb_entry(slot_kind: str, text: str) -> str | None:
    """The PDB id that ``pdb:ID`` names, when given to a structure slot."""
    stripped = text.strip()
    if slot_kind == "structure" and stripped.lower().startswith(PDB_PREFIX):
        return stripped[len(PDB_PREFIX) :].strip()
    return None
