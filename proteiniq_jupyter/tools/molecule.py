"""Small-molecule tools built on RDKit: SMILES to 3D SDF and SDF to SMILES.

RDKit explains a failure only in its log, so parsing happens under a log capture
and the reason is handed to the user with the line and molecule it concerns.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pydantic
from rdkit import Chem, rdBase
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers, rdMolDescriptors
from rdkit.Chem.Descriptors import MolWt  # type: ignore[attr-defined]  # missing from RDKit's type hints

from ..jobs.model import JobInput, JsonDict, ToolResult
from .base import InputSlot, OutputField, RunContext, Tool
from .parsing import (
    ErrorList,
    check_size,
    entry_lines,
    file_stem,
    only_item,
    settings_as,
    split_lines,
    summary_fields,
)

_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s?")
_POSITION = re.compile(r"around position (\d+)")


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


# -- SMILES to SDF ----------------------------------------------------------


@dataclass(frozen=True)
class SmilesEntry:
    """One molecule of the input: where it is, what it is called, and the molecule."""

    number: int
    line: int
    column: int
    smiles: str
    name: str
    mol: Chem.Mol


def parse_smiles_lines(
    text: str,
    *,
    index: int | None = None,
    slot: str | None = None,
    max_molecules: int | None = None,
    max_heavy_atoms: int | None = None,
) -> list[SmilesEntry]:
    """One SMILES per line, optionally followed by whitespace and a name. Blank lines
    and lines starting with '#' are skipped."""
    errors = ErrorList(index=index, slot=slot)
    entries: list[SmilesEntry] = []
    number = 0
    for line_number, line, stripped in entry_lines(text):
        number += 1
        smiles, *rest = stripped.split(maxsplit=1)
        name = rest[0].strip() if rest else f"molecule {number}"
        column = len(line) - len(line.lstrip()) + 1
        place = f"molecule {number} ({name!r}), line {line_number}"
        with rdkit_log() as log:
            mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None:
            reason = summarise_log(log) or "a syntax error"
            found = next((m for m in map(_POSITION.search, log) if m), None)
            where = place
            character = column
            if found is not None:
                character = column + int(found.group(1)) - 1
                where = f"{place}, character {character}"
            errors.add(
                f"{where}: RDKit cannot parse the SMILES {smiles!r}: {reason}",
                molecule=number,
                name=name,
                line=line_number,
                column=character,
            )
            continue
        problems = chemistry_problems(mol)
        if problems:
            reasons = "; ".join(message for message, _ in problems)
            errors.add(
                f"{place}, character {column}: the SMILES {smiles!r} is not a valid "
                f"molecule: {reasons}",
                molecule=number,
                name=name,
                line=line_number,
                column=column,
            )
            continue
        Chem.SanitizeMol(mol)
        if max_heavy_atoms is not None and mol.GetNumHeavyAtoms() > max_heavy_atoms:
            errors.add(
                f"{place}: the molecule has {mol.GetNumHeavyAtoms()} heavy atoms; "
                f"the limit is {max_heavy_atoms}",
                molecule=number,
                name=name,
                line=line_number,
            )
            continue
        entries.append(SmilesEntry(number, line_number, column, smiles, name, mol))
    if number == 0:
        errors.add("the input has no SMILES (it is empty or only comments)")
    elif max_molecules is not None and number > max_molecules:
        errors.add(f"the input has {number} molecules; the limit is {max_molecules}")
    errors.raise_if_any()
    return entries


class SmilesToSdfSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    random_seed: int = pydantic.Field(
        42,
        ge=0,
        le=2**31 - 1,
        description="seed of the ETKDG embedding; the same seed gives the same coordinates",
    )
    force_field: Literal["MMFF94", "MMFF94s", "UFF", "none"] = pydantic.Field(
        "MMFF94",
        description="geometry optimisation after embedding; UFF is used where MMFF "
        "has no parameters for a molecule",
    )
    max_iterations: int = pydantic.Field(
        2000, ge=0, le=100_000, description="optimisation steps at most"
    )


def embed_molecule(mol: Chem.Mol, options: SmilesToSdfSettings) -> tuple[Chem.Mol, JsonDict]:
    """Add hydrogens, embed in 3D with ETKDG v3 and optimise; return the molecule and
    what was done to it."""
    with_h = Chem.AddHs(mol)
    # Typed loosely: RDKit's type hints give the parameter attributes the wrong type.
    params: Any = rdDistGeom.ETKDGv3()
    params.randomSeed = options.random_seed
    with rdkit_log():
        status = rdDistGeom.EmbedMolecule(with_h, params)
        if status != 0:
            # Random starting coordinates succeed for cages and strained rings where
            # the distance-geometry start does not.
            params.useRandomCoords = True
            status = rdDistGeom.EmbedMolecule(with_h, params)
    if status != 0:
        raise RuntimeError("RDKit could not generate 3D coordinates (ETKDG embedding failed)")
    used: str = "none"
    converged: bool | None = None
    energy: float | None = None
    if options.force_field != "none" and options.max_iterations > 0:
        used, converged, energy = _optimise(with_h, options)
    return with_h, {"force_field": used, "converged": converged, "energy": energy}


def _optimise(mol: Chem.Mol, options: SmilesToSdfSettings) -> tuple[str, bool | None, float | None]:
    """Minimise with the chosen force field, or UFF where MMFF lacks parameters (boron,
    most metals); neither having parameters leaves the embedded geometry as it is."""
    if options.force_field.startswith("MMFF") and rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
        properties = rdForceFieldHelpers.MMFFGetMoleculeProperties(
            mol, mmffVariant=options.force_field
        )
        field = rdForceFieldHelpers.MMFFGetMoleculeForceField(mol, properties)
        used = options.force_field
    elif rdForceFieldHelpers.UFFHasAllMoleculeParams(mol):
        field = rdForceFieldHelpers.UFFGetMoleculeForceField(mol)
        used = "UFF"
    else:
        return "none", None, None
    field.Initialize()
    result = field.Minimize(maxIts=options.max_iterations)
    return used, result == 0, round(float(field.CalcEnergy()), 3)


_MOLECULE_OUTPUTS = (
    OutputField("molecules", "molecules in the job"),
    OutputField("name", "molecule name (per-molecule rows)"),
    OutputField("smiles", "canonical isomeric SMILES"),
    OutputField("formula", "molecular formula"),
    OutputField("atoms", "atoms including hydrogens"),
    OutputField("heavy_atoms", "non-hydrogen atoms"),
    OutputField("molecular_weight", "average molecular weight", "g/mol"),
)


class SmilesToSdf(Tool):
    """Turn SMILES into 3D structures for docking and modelling."""

    id = "smiles-to-sdf"
    libraries = ("rdkit",)
    name = "SMILES to 3D SDF"
    description = (
        "Build 3D structures from SMILES with RDKit: add hydrogens, embed with ETKDG v3 "
        "(seeded, so repeatable) and optimise with MMFF94. All molecules go into one SDF."
    )
    category = "molecule"
    subcategory = "conversion"
    tags = ("molecule", "smiles", "sdf", "3d", "conformer", "rdkit")
    time_limit_s = 300.0
    slots = (
        InputSlot(
            id="molecules",
            kind="molecule",
            formats=("smiles", "smi", "text"),
            label="SMILES",
            description="One SMILES per line, optionally followed by a space and a name.",
        ),
    )
    outputs = (
        *_MOLECULE_OUTPUTS,
        OutputField("force_field", "force field used for optimisation"),
        OutputField("converged", "the optimisation converged (empty when not optimised)"),
        OutputField("energy", "force-field energy after optimisation", "kcal/mol"),
    )
    settings_model = SmilesToSdfSettings
    limits: ClassVar[JsonDict] = {
        "max_file_bytes": 200_000,
        "max_molecules": 50,
        "max_heavy_atoms": 150,
    }

    def _entries(self, inputs: Sequence[JobInput]) -> tuple[JobInput, list[SmilesEntry]]:
        index, item = only_item(inputs, "molecules")
        check_size(item, index, self.limits["max_file_bytes"])
        entries = parse_smiles_lines(
            item.content,
            index=index,
            slot="molecules",
            max_molecules=self.limits["max_molecules"],
            max_heavy_atoms=self.limits["max_heavy_atoms"],
        )
        return item, entries

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._entries(inputs)

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        options = settings_as(settings, SmilesToSdfSettings)
        item, entries = self._entries(inputs)
        buffer = io.StringIO()
        writer = Chem.SDWriter(buffer)
        rows: list[JsonDict] = []
        for done, entry in enumerate(entries, start=1):
            try:
                mol3d, info = embed_molecule(entry.mol, options)
            except RuntimeError as exc:
                raise RuntimeError(
                    f"molecule {entry.number} ({entry.name!r}), line {entry.line}: {exc}"
                ) from None
            smiles = Chem.MolToSmiles(entry.mol)
            mol3d.SetProp("_Name", entry.name)
            mol3d.SetProp("SMILES", smiles)
            mol3d.SetProp("force_field", str(info["force_field"]))
            if info["energy"] is not None:
                mol3d.SetDoubleProp("energy", float(info["energy"]))
            writer.write(mol3d)
            rows.append(
                {
                    "index": entry.number,
                    "name": entry.name,
                    "smiles": smiles,
                    **molecule_row(entry.mol),
                    **info,
                }
            )
            context.progress(done / len(entries), f"molecule {done} of {len(entries)}")
        writer.close()
        out = context.write_file(f"{file_stem(item, 'molecules')}.sdf", buffer.getvalue(), "sdf")
        return ToolResult(
            fields=summary_fields({"molecules": len(rows)}, rows), rows=rows, files=[out]
        )


# -- SDF to SMILES ----------------------------------------------------------


@dataclass(frozen=True)
class SdfRecord:
    """One record of an SD file: its ordinal, first line in the file, and text."""

    number: int
    line: int
    title: str
    lines: list[str]

    @property
    def place(self) -> str:
        title = f" ({self.title!r})" if self.title else ""
        return f"record {self.number}{title}"

    def block(self) -> str:
        return "\n".join(self.lines) + "\n"


def split_sdf(text: str) -> list[SdfRecord]:
    """Records between '$$$$' lines, skipping blank ones (a trailing newline). Blank
    lines ending a record are dropped so a place names a line that has content."""
    records: list[SdfRecord] = []
    current: list[str] = []
    start = 1

    def close() -> None:
        while current and not current[-1].strip():
            current.pop()
        if current:
            records.append(SdfRecord(len(records) + 1, start, current[0].strip(), current))

    for line_number, line in enumerate(split_lines(text), start=1):
        if line.strip() == "$$$$":
            close()
            current, start = [], line_number + 1
            continue
        current.append(line)
    close()
    return records


def check_v2000(record: SdfRecord, errors: ErrorList) -> bool:
    """Check the fixed columns of a V2000 connection table (V3000 is left to RDKit).
    Returns False when the record is broken and has been reported."""
    place = record.place
    lines = record.lines

    def report(offset: int, message: str, column: int | None = None) -> bool:
        line = record.line + offset
        where = f"{place}, line {line}" + (f", character {column}" if column else "")
        errors.add(
            f"{where}: {message}",
            record=record.number,
            title=record.title,
            line=line,
            column=column,
        )
        return False

    if len(lines) < 4:
        return report(
            len(lines) - 1,
            "the record ends before its counts line (a mol block needs three header "
            "lines and a counts line)",
        )
    counts = lines[3]
    if "V3000" in counts:
        return True
    try:
        n_atoms, n_bonds = int(counts[0:3]), int(counts[3:6])
    except ValueError:
        return report(
            3, f"the counts line {counts.strip()!r} does not start with atom and bond counts", 1
        )
    for i in range(n_atoms):
        offset = 4 + i
        if offset >= len(lines) or lines[offset].startswith("M  "):
            return report(
                min(offset, len(lines) - 1),
                f"the atom block is cut short: the counts line promises {n_atoms} atoms, found {i}",
            )
        atom = lines[offset]
        for axis, start in (("x", 0), ("y", 10), ("z", 20)):
            try:
                float(atom[start : start + 10])
            except ValueError:
                return report(
                    offset,
                    f"atom {i + 1} has {axis} coordinate {atom[start : start + 10].strip()!r}, "
                    "which is not a number",
                    start + 1,
                )
        if not atom[31:34].strip():
            return report(offset, f"atom {i + 1} has no element symbol (columns 32-34)", 32)
    for j in range(n_bonds):
        offset = 4 + n_atoms + j
        if offset >= len(lines) or lines[offset].startswith("M  "):
            return report(
                min(offset, len(lines) - 1),
                f"the bond block is cut short: the counts line promises {n_bonds} bonds, found {j}",
            )
        bond = lines[offset]
        try:
            first, second, order = int(bond[0:3]), int(bond[3:6]), int(bond[6:9])
        except ValueError:
            return report(offset, f"bond {j + 1} line {bond.strip()!r} is not three numbers", 1)
        for atom_number, column in ((first, 1), (second, 4)):
            if not 1 <= atom_number <= n_atoms:
                return report(
                    offset,
                    f"bond {j + 1} refers to atom {atom_number}, but the molecule has "
                    f"{n_atoms} atoms",
                    column,
                )
        if not 1 <= order <= 8:
            return report(offset, f"bond {j + 1} has bond type {order}; V2000 allows 1-8", 7)
    if not any(line.startswith("M  END") for line in lines[4 + n_atoms + n_bonds :]):
        return report(len(lines) - 1, "the record has no 'M  END' line")
    return True


@dataclass(frozen=True)
class SdfMolecule:
    record: SdfRecord
    mol: Chem.Mol


def parse_sdf(
    text: str,
    *,
    index: int | None = None,
    slot: str | None = None,
    max_records: int | None = None,
) -> list[SdfMolecule]:
    """Read every record of an SD file, reporting broken ones by number, title and line."""
    errors = ErrorList(index=index, slot=slot)
    records = split_sdf(text)
    if not records:
        errors.add("the input has no SDF records (it is empty)")
    elif max_records is not None and len(records) > max_records:
        errors.add(f"the input has {len(records)} records; the limit is {max_records}")
    errors.raise_if_any()
    molecules: list[SdfMolecule] = []
    for record in records:
        if not check_v2000(record, errors):
            continue
        with rdkit_log() as log:
            mol = Chem.MolFromMolBlock(record.block(), sanitize=False, removeHs=False)
        if mol is None:
            reason = summarise_log(log) or "the connection table cannot be read"
            errors.add(
                f"{record.place}, line {record.line}: RDKit cannot read the molecule: {reason}",
                record=record.number,
                title=record.title,
                line=record.line,
            )
            continue
        problems = chemistry_problems(mol)
        if problems:
            v2000 = "V3000" not in record.lines[3]
            for message, atoms in problems:
                line = record.line + 4 + atoms[0] if atoms and v2000 else record.line
                errors.add(
                    f"{record.place}, line {line}: the molecule is not valid: {message}",
                    record=record.number,
                    title=record.title,
                    line=line,
                )
            continue
        Chem.SanitizeMol(mol)
        molecules.append(SdfMolecule(record, mol))
    errors.raise_if_any()
    return molecules


class SdfToSmilesSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    isomeric: bool = pydantic.Field(True, description="keep stereochemistry and isotopes")
    kekule: bool = pydantic.Field(False, description="write Kekulé bonds instead of aromatic")
    keep_hydrogens: bool = pydantic.Field(
        False, description="keep explicit hydrogens from the file in the SMILES"
    )


class SdfToSmiles(Tool):
    """Canonical SMILES for every record of an SD file."""

    id = "sdf-to-smiles"
    libraries = ("rdkit",)
    name = "SDF to SMILES"
    description = (
        "Read an SD file with RDKit and write the canonical SMILES of every record "
        "(a .smi file with names), with formula, weight and InChIKey per molecule."
    )
    category = "molecule"
    subcategory = "conversion"
    tags = ("molecule", "sdf", "smiles", "conversion", "rdkit")
    time_limit_s = 120.0
    slots = (
        InputSlot(
            id="molecules",
            kind="molecule",
            formats=("sdf", "mol"),
            label="SD file",
            description="One or more mol blocks separated by '$$$$' lines.",
        ),
    )
    outputs = (*_MOLECULE_OUTPUTS, OutputField("inchikey", "standard InChIKey"))
    settings_model = SdfToSmilesSettings
    limits: ClassVar[JsonDict] = {"max_file_bytes": 20_000_000, "max_records": 10_000}

    def _molecules(self, inputs: Sequence[JobInput]) -> tuple[JobInput, list[SdfMolecule]]:
        index, item = only_item(inputs, "molecules")
        check_size(item, index, self.limits["max_file_bytes"])
        molecules = parse_sdf(
            item.content, index=index, slot="molecules", max_records=self.limits["max_records"]
        )
        return item, molecules

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._molecules(inputs)

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        options = settings_as(settings, SdfToSmilesSettings)
        item, molecules = self._molecules(inputs)
        rows: list[JsonDict] = []
        lines: list[str] = []
        for done, entry in enumerate(molecules, start=1):
            mol = Chem.Mol(entry.mol) if options.keep_hydrogens else Chem.RemoveHs(entry.mol)
            if options.kekule:
                Chem.Kekulize(mol, clearAromaticFlags=True)
            smiles = Chem.MolToSmiles(
                mol, isomericSmiles=options.isomeric, kekuleSmiles=options.kekule
            )
            name = entry.record.title or f"record {entry.record.number}"
            lines.append(f"{smiles} {name}")
            rows.append(
                {
                    "index": entry.record.number,
                    "name": name,
                    "smiles": smiles,
                    **molecule_row(Chem.RemoveHs(entry.mol)),
                    "inchikey": _inchikey(entry.mol),
                }
            )
            if done % 50 == 0 or done == len(molecules):
                context.progress(done / len(molecules), f"record {done} of {len(molecules)}")
        out = context.write_file(
            f"{file_stem(item, 'molecules')}.smi", "\n".join(lines) + "\n", "smiles"
        )
        return ToolResult(
            fields=summary_fields({"molecules": len(rows)}, rows), rows=rows, files=[out]
        )


def _inchikey(mol: Chem.Mol) -> str:
    """The standard InChIKey, or '' where this RDKit was built without InChI."""
    try:
        from rdkit.Chem import rdinchi
    except ImportError:
        return ""
    with rdkit_log():
        return rdinchi.MolToInchiKey(mol)
