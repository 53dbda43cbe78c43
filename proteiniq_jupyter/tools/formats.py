"""What format an input is in, from a file's name or a ``pdb:ID`` reference, for
a slot that takes given formats: one rule for the command line and the notebook
client."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
#: Extensions of the files inputs are commonly given as.
FILE_EXTENSIONS = frozenset(
    {"pdb", "cif", "mmcif", "pdbqt", "sdf", "mol2", "smiles", "fasta", "csv", "json"}
) | frozenset(FORMAT_ALIASES)
#: Formats that a slot taking plain text also reads.
READ_AS_TEXT = frozenset({"fasta", "smiles"})
#: How a structure input names a PDB entry to fetch instead of carrying its text.
PDB_PREFIX = "pdb:"


def extension(path: str | Path) -> str:
    return Path(path).suffix.lstrip(".").lower()


def looks_like_file_name(text: str, extensions: Iterable[str] = FILE_EXTENSIONS) -> bool:
    """Whether ``text`` names a file (``seqs.fasta``, ``receptor.pdb``) rather than
    being sequence or SMILES text: no whitespace, and one of ``extensions`` (or a
    synonym of one) at its end."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        return False
    ext = extension(text)
    return bool(ext) and ext in {*extensions, *FORMAT_ALIASES}


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
