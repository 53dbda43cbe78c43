"""The receptor: its atoms as the box reads them, the checks at submit, and its
preparation by meeko into Vina's rigid PDBQT, cached by content."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ...jobs.model import JobInput, JsonDict
from ...recent import Recent
from ..parsing import ErrorList, check_size, fail, split_lines
from ..structure import check_pdb_text
from .settings import RECEPTOR_SLOT, PreparationError, VinaSettings

RECEPTOR_CACHE = "vina-receptors"
#: Part of every receptor cache key; raise it when preparation changes, so entries
#: made the old way are not reused.
CACHE_VERSION = 1

Point = tuple[float, float, float]


class PdbAtom(NamedTuple):
    """An ATOM/HETATM record of the first model, as far as the box needs it (a
    tuple: a receptor has thousands, read in every job)."""

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


@dataclass(frozen=True)
class ReceptorOptions:
    """What changes a prepared receptor: part of its cache key."""

    remove_heteroatoms: bool = True
    delete_bad_residues: bool = False

    @classmethod
    def of(cls, settings: VinaSettings) -> ReceptorOptions:
        return cls(settings.remove_heteroatoms, settings.delete_bad_residues)


#: The atoms of the last few receptors whose records passed their checks, by the
#: text's digest: a docking campaign submits one receptor with every ligand, and
#: need not read and check it again each time.
_WELL_FORMED_RECEPTORS: Recent[bytes, tuple[PdbAtom, ...]] = Recent(4)


def receptor_format(item: JobInput) -> str:
    """pdbqt for a receptor given prepared, else pdb (to be prepared with meeko)."""
    return "pdbqt" if item.format.lower() == "pdbqt" else "pdb"


def check_receptor(
    item: JobInput, index: int, options: VinaSettings, limits: JsonDict
) -> Sequence[PdbAtom]:
    """The receptor's atoms, once its size, its records and its atom count pass;
    problems name their line."""
    check_size(item, index, limits["max_receptor_bytes"])
    errors = ErrorList(index=index, slot=RECEPTOR_SLOT)

    def read_checked() -> tuple[PdbAtom, ...]:
        check_pdb_text(item.content, errors)
        errors.raise_if_any()
        return tuple(pdb_atoms(item.content))

    digest = hashlib.sha256(item.content.encode("utf-8")).digest()
    atoms = _WELL_FORMED_RECEPTORS.get_or_make(digest, read_checked)
    if not atoms:
        fail("the receptor has no atoms: there is no ATOM or HETATM record", index=index)
    if len(atoms) > limits["max_receptor_atoms"]:
        fail(
            f"the receptor has {len(atoms):,} atoms; the limit is {limits['max_receptor_atoms']:,}",
            index=index,
            slot=RECEPTOR_SLOT,
        )
    if receptor_format(item) == "pdbqt":
        lines = split_lines(item.content)
        for atom in atoms:
            if not lines[atom.line - 1][77:80].strip():
                errors.add(
                    f"line {atom.line}, characters 78-79: the PDBQT atom has no AutoDock atom type",
                    line=atom.line,
                    column=78,
                )
                break
    elif options.remove_heteroatoms and all(atom.hetero for atom in atoms):
        errors.add(
            "the receptor has only HETATM records, which are removed before "
            "preparation; set remove_heteroatoms to false to keep them"
        )
    errors.raise_if_any()
    return atoms


def receptor_for_preparation(text: str, remove_heteroatoms: bool = True) -> str:
    """The receptor text meeko reads: the first model only, without anisotropic
    records or CONECTs (which may name removed atoms), and without HETATM records
    when asked."""
    kept: list[str] = []
    for line in split_lines(text):
        record = line[:6].rstrip()
        if record == "ENDMDL":
            break
        if record in ("MODEL", "ANISOU", "CONECT") or (remove_heteroatoms and record == "HETATM"):
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def receptor_cache_key(text: str, options: ReceptorOptions) -> str:
    """sha256 of the receptor text, the preparation options and the meeko version."""
    import meeko  # type: ignore[import-untyped, unused-ignore]

    material = json.dumps(
        {
            "version": CACHE_VERSION,
            "meeko": meeko.__version__,
            "remove_heteroatoms": options.remove_heteroatoms,
            "delete_bad_residues": options.delete_bad_residues,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(material.encode())
    digest.update(b"\0")
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def prepare_receptor(text: str, options: ReceptorOptions | None = None) -> str:
    """A PDB receptor as Vina's rigid PDBQT, by meeko (hydrogens added from residue
    templates, Gasteiger charges from the templates, AutoDock atom types).

    Residues meeko has no template for are refused here (or dropped with
    ``delete_bad_residues``) because meeko would otherwise try to download one from
    the PDB, which a job must not depend on."""
    from meeko import (  # type: ignore[import-untyped, unused-ignore]
        MoleculePreparation,
        PDBQTWriterLegacy,
        Polymer,
        PolymerCreationError,
    )

    options = options or ReceptorOptions()
    pdb = receptor_for_preparation(text, options.remove_heteroatoms)
    templates = residue_templates()
    known = set(templates.residue_templates) | set(templates.ambiguous)
    atoms = pdb_atoms(pdb)
    if not atoms:
        raise PreparationError("the receptor has no atoms left to prepare")
    unknown: dict[str, str] = {}
    for atom in atoms:
        if atom.resname not in known:
            unknown.setdefault(atom.residue, atom.resname)
    if unknown and not options.delete_bad_residues:
        listed = ", ".join(f"{key} ({name})" for key, name in list(unknown.items())[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise PreparationError(
            f"the receptor has residues with no meeko template: {listed}{more}; remove "
            "them from the file, or set delete_bad_residues to leave them out"
        )
    try:
        polymer = Polymer.from_pdb_string(
            pdb,
            templates,
            MoleculePreparation(),
            residues_to_delete=sorted(unknown) or None,
            allow_bad_res=options.delete_bad_residues,
            default_altloc="A",
        )
    except PolymerCreationError as exc:
        details = " ".join(
            line.strip().lstrip("- ")
            for line in str(exc.error).splitlines()
            if line.strip() and "--" not in line
        )
        raise PreparationError(
            f"meeko could not prepare the receptor: {details}. Fix those residues "
            "(often missing side-chain atoms), or set delete_bad_residues to leave them out"
        ) from None
    rigid, _flexible = PDBQTWriterLegacy.write_from_polymer(polymer)
    if not rigid.strip():
        raise PreparationError("no receptor residue is left after preparation")
    return str(rigid)


@functools.cache
def _residue_templates_pickled() -> bytes:
    from meeko import ResidueChemTemplates  # type: ignore[import-untyped, unused-ignore]

    return pickle.dumps(ResidueChemTemplates.create_from_defaults())


def residue_templates() -> Any:
    """meeko's residue templates. Building them reads meeko's JSON (0.45 s), so that
    is done once per process (in a worker's fork server, once per worker); each
    preparation gets a copy of its own (0.09 s), as meeko may add to them."""
    return pickle.loads(_residue_templates_pickled())


def cached_receptor(
    text: str, cache_dir: Path, options: ReceptorOptions | None = None
) -> tuple[Path, bool]:
    """The prepared receptor's file in ``cache_dir`` and whether it was there already.

    Keyed by content, so every job on the same receptor shares one preparation; the
    file is written to a temporary name and renamed, so a job never reads a half
    file while another writes it."""
    options = options or ReceptorOptions()
    path = cache_dir / f"{receptor_cache_key(text, options)}.pdbqt"
    if path.is_file():
        return path, True
    write_atomically(path, prepare_receptor(text, options))
    return path, False


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
