"""The receptor's preparation into Vina's rigid PDBQT: read as it came, made whole
by PDBFixer (``repair``), typed and charged by meeko, cached by content and options.

Everything that reaches here passed the checks at submit (``check_receptor``), and
what meeko still refuses is rebuilt or left out and reported (a receptor is
prepared, not failed); should a library fail without naming a residue, the job
fails with a message, never with the library's own exception. A job's preparation
runs in a forked process of its own, so that a library's crash in native code fails
that job with a message, not the process that runs it."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gemmi

from ...jobs.errors import ValidationError
from ...jobs.model import JobInput
from ..apart import CrashedApart, run_apart
from ..structure_input import ResidueKey, StructureInput, read_structure_input
from .contacts import close_contacts
from .repair import RepairReport, repair
from .residues import ReceptorPlan, plan_receptor
from .settings import RECEPTOR_SLOT, PreparationError, VinaSettings

RECEPTOR_CACHE = "vina-receptors"
#: Part of every receptor cache key; raise it when preparation changes, so entries
#: made the old way are not reused.
CACHE_VERSION = 3
_RESIDUE_IN_MESSAGE = re.compile(r"\b([A-Za-z0-9]?):(-?\d+)([A-Za-z]?)\b")


@dataclass(frozen=True)
class ReceptorOptions:
    """What changes a prepared receptor: part of its cache key."""

    remove_heteroatoms: bool = True
    delete_bad_residues: bool = False
    ph: float = 7.4

    @classmethod
    def of(cls, settings: VinaSettings) -> ReceptorOptions:
        return cls(settings.remove_heteroatoms, settings.delete_bad_residues, settings.ph)


@dataclass(frozen=True)
class PreparedReceptor:
    path: Path
    cached: bool
    report: RepairReport


def receptor_cache_key(text: str, options: ReceptorOptions) -> str:
    """sha256 of the receptor text, the preparation options and the versions of the
    libraries that prepare it."""
    from importlib.metadata import version

    material = json.dumps(
        {
            "version": CACHE_VERSION,
            "meeko": version("meeko"),
            "pdbfixer": version("pdbfixer"),
            "openmm": version("openmm"),
            "remove_heteroatoms": options.remove_heteroatoms,
            "delete_bad_residues": options.delete_bad_residues,
            "ph": options.ph,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(material.encode())
    digest.update(b"\0")
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def prepare_receptor(text: str, options: ReceptorOptions | None = None) -> str:
    """A PDB or mmCIF receptor as Vina's rigid PDBQT (see ``prepare_receptor_reported``)."""
    return prepare_receptor_reported(text, options)[0]


def prepare_receptor_reported(
    text: str, options: ReceptorOptions | None = None
) -> tuple[str, RepairReport]:
    """A PDB or mmCIF receptor as Vina's rigid PDBQT, and what was repaired or left
    out on the way: PDBFixer completes missing heavy atoms and adds hydrogens at
    ``options.ph`` (keeping those the file has), meeko types the atoms and gives
    them Gasteiger charges from its residue templates.

    Side chains the plan found too close to a neighbour are built anew from CB.
    Should meeko still refuse residues, their side chains are rebuilt (every
    hydrogen placed afresh), then left out past CB where one still clashes (the
    residue prepared as alanine), then the residues left out: the receptor is
    prepared, with a report of what was changed."""
    options = options or ReceptorOptions()
    item = JobInput(id="receptor", slot_id=RECEPTOR_SLOT, kind="structure", format="", content=text)
    try:
        source = read_structure_input(item, 0, 10_000_000)
    except ValidationError as exc:
        raise PreparationError(exc.message) from None
    plan = plan_receptor(
        source,
        remove_heteroatoms=options.remove_heteroatoms,
        delete_bad_residues=options.delete_bad_residues,
    )
    if plan.refused:
        raise PreparationError("; ".join(refusal.message for refusal in plan.refused))
    if plan.kept == 0:
        raise PreparationError("the receptor has no residue left to prepare")
    rebuild: set[ResidueKey] = set(plan.crowded)
    truncate: set[ResidueKey] = set()
    # Each round that meeko refuses residues widens one remedy for them: their side
    # chains rebuilt, then left out past CB where one still clashes, then the
    # residues left out. The sets only grow, so the rounds end.
    while True:
        pdb, report = _repaired(source, plan, options.ph, rebuild, truncate)
        try:
            return _meeko_pdbqt(pdb), report
        except PreparationError as exc:
            named = _residues_named(str(exc), plan.labels) - set(plan.left_out)
            if not named:
                raise
        fresh = (named & plan.side_chains) - rebuild - truncate
        if fresh:
            rebuild |= fresh
            continue
        crowded = _side_chains_in_contact(pdb, named & plan.side_chains) - truncate
        if crowded:
            truncate |= crowded
            continue
        for key in named:
            plan.left_out[key] = "meeko matched it to none of its templates, even rebuilt"
            plan.side_chains.discard(key)
        rebuild -= named
        truncate -= named


def _repaired(
    source: StructureInput,
    plan: ReceptorPlan,
    ph: float,
    rebuild: set[ResidueKey],
    truncate: set[ResidueKey],
) -> tuple[str, RepairReport]:
    try:
        return repair(source, plan, ph, rebuild, truncate)
    except Exception as exc:  # a library's own exception must not reach the user
        raise PreparationError(f"PDBFixer could not complete the receptor: {exc}") from None


def _side_chains_in_contact(pdb: str, residues: set[ResidueKey]) -> set[ResidueKey]:
    """Those of ``residues`` with a side-chain atom (hydrogens included) closer to
    another residue than meeko's bonding distance in the repaired receptor."""
    model = gemmi.read_pdb_string(pdb)[0]
    found = set()
    for contact in close_contacts(model, hydrogens=True):
        for side in (contact.first, contact.second):
            if side.key in residues and side.in_side_chain():
                found.add(side.key)
    return found


def _residues_named(message: str, labels: dict[ResidueKey, str]) -> set[ResidueKey]:
    named = set()
    for chain, number, icode in _RESIDUE_IN_MESSAGE.findall(message):
        key = (chain, int(number), icode)
        if key in labels:
            named.add(key)
    return named


def _meeko_pdbqt(pdb: str) -> str:
    from meeko import (  # type: ignore[import-untyped, unused-ignore]
        MoleculePreparation,
        PDBQTWriterLegacy,
        Polymer,
        PolymerCreationError,
    )

    try:
        polymer = Polymer.from_pdb_string(
            pdb, residue_templates(), MoleculePreparation(), default_altloc="A"
        )
    except PolymerCreationError as exc:
        details = " ".join(
            line.strip().lstrip("- ")
            for line in str(exc.error).splitlines()
            if line.strip() and "--" not in line
        )
        raise PreparationError(f"meeko could not prepare the receptor: {details}") from None
    except Exception as exc:  # meeko reports bad residues with assorted types
        raise PreparationError(f"meeko could not prepare the receptor: {exc}") from None
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


def warm_up_repair() -> None:
    """PDBFixer and OpenMM imported, as a worker's fork server does once."""
    import openmm.app  # noqa: F401
    import pdbfixer  # noqa: F401


def cached_receptor(
    text: str, cache_dir: Path, options: ReceptorOptions | None = None
) -> PreparedReceptor:
    """The prepared receptor's file in ``cache_dir``, whether it was there already,
    and what its preparation repaired (kept beside it).

    Keyed by content, so every job on the same receptor shares one preparation; the
    files are written to temporary names and renamed, the report first, so a job
    never reads a half file while another writes it."""
    options = options or ReceptorOptions()
    key = receptor_cache_key(text, options)
    path = cache_dir / f"{key}.pdbqt"
    notes = cache_dir / f"{key}.json"
    if path.is_file() and notes.is_file():
        report = RepairReport.from_json(json.loads(notes.read_text(encoding="utf-8")))
        return PreparedReceptor(path, True, report)
    pdbqt, report = prepare_receptor_apart(text, options)
    write_atomically(notes, json.dumps(report.to_json()))
    write_atomically(path, pdbqt)
    return PreparedReceptor(path, False, report)


def prepare_receptor_apart(
    text: str, options: ReceptorOptions | None = None
) -> tuple[str, RepairReport]:
    """``prepare_receptor_reported`` in a forked process of its own: should meeko,
    RDKit, PDBFixer or OpenMM crash in native code on this receptor, the caller
    (a notebook's kernel, ``piq run --wait``, a job's process) gets a
    ``PreparationError`` that says so, and goes on. meeko's residue templates are
    built here first, so that this process keeps them for the next preparation."""
    _residue_templates_pickled()
    try:
        return run_apart("preparing the receptor", prepare_receptor_reported, text, options)
    except CrashedApart as exc:
        raise PreparationError(
            f"{exc}; the libraries that prepare it (meeko, RDKit, PDBFixer, OpenMM) "
            "failed on this structure"
        ) from None


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
