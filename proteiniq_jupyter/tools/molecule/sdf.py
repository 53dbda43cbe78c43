"""SD files as they come from other programs: records, V2000 checks with the line at
fault, RDKit molecules, and the tool that writes canonical SMILES."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pydantic
from rdkit import Chem

from ...jobs.model import JobInput, JsonDict, ToolResult
from ..base import InputSlot, OutputField, RunContext, Tool
from ..parsing import (
    ErrorList,
    check_size,
    file_stem,
    only_item,
    settings_as,
    split_lines,
    summary_fields,
)
from .chemistry import MOLECULE_OUTPUTS, chemistry_problems, molecule_row, rdkit_log, summarise_log


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
    outputs = (*MOLECULE_OUTPUTS, OutputField("inchikey", "standard InChIKey"))
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
