"""Structure tools built on gemmi: PDB ⇄ mmCIF conversion and chain sequences.

gemmi is forgiving (a coordinate it cannot read becomes 0 or NaN), so the text is
checked here first and every problem is reported with its line and columns.
"""

from __future__ import annotations

import math
import re
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gemmi
import pydantic

from ..jobs.model import JobInput, JsonDict, ToolResult
from .base import InputSlot, OutputField, RunContext, Tool
from .parsing import (
    ErrorList,
    check_size,
    fail,
    file_stem,
    format_fasta,
    only_item,
    settings_as,
    split_lines,
    summary_fields,
)

_SLOT = "structure"
PDB_FORMATS = ("pdb", "ent")
MMCIF_FORMATS = ("mmcif", "cif")

_STRUCTURE_LIMITS: JsonDict = {"max_file_bytes": 50_000_000, "max_atoms": 1_000_000}

# PDB fixed columns (0-based, end-exclusive) that must hold numbers.
_COORDINATE_COLUMNS = (("x", 30, 38), ("y", 38, 46), ("z", 46, 54))
_OPTIONAL_NUMBER_COLUMNS = (("occupancy", 54, 60), ("B-factor", 60, 66))
_HYBRID36 = re.compile(r"[A-Za-z][A-Za-z0-9]{3}")
_GEMMI_PDB_ERROR = re.compile(r"line (\d+)", re.IGNORECASE)
_GEMMI_CIF_ERROR = re.compile(r"^[^:]*:(\d+):(\d+)\(\d+\): (.*)$", re.DOTALL)


_PDB_RECORDS = ("ATOM  ", "HETATM", "HEADER", "CRYST1", "MODEL ", "REMARK", "SEQRES")


def sniff_format(text: str) -> str | None:
    """'mmcif' when the first meaningful line opens a CIF data block, 'pdb' when a line
    starts with a PDB record name, None when neither (the declared format decides)."""
    lines = split_lines(text)
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            if stripped.lower().startswith("data_"):
                return "mmcif"
            break
    if any(line[:6] in _PDB_RECORDS for line in lines):
        return "pdb"
    return None


def check_pdb_text(text: str, errors: ErrorList) -> int:
    """Check the fixed columns of every ATOM/HETATM record; return how many there are."""
    atoms = 0
    for number, line in enumerate(split_lines(text), start=1):
        record = line[:6].rstrip()
        if record not in ("ATOM", "HETATM"):
            continue
        atoms += 1
        if _well_formed(line):
            continue
        content = line.rstrip()
        if len(content) < 54:
            errors.add(
                f"line {number}: {record} record is cut short ({len(content)} characters; "
                "the x, y and z coordinates need columns 31-54)",
                line=number,
                column=len(content) + 1,
            )
            continue
        residue_number = line[22:26].strip()
        if not (_is_int(residue_number) or _HYBRID36.fullmatch(residue_number)):
            errors.add(
                f"line {number}, characters 23-26: {record} record has residue number "
                f"{residue_number!r}, which is not a number",
                line=number,
                column=23,
            )
        for label, start, end in _COORDINATE_COLUMNS:
            value = line[start:end].strip()
            if not _is_float(value):
                errors.add(
                    f"line {number}, characters {start + 1}-{end}: {record} record has "
                    f"{label} coordinate {value!r}, which is not a number",
                    line=number,
                    column=start + 1,
                )
        for label, start, end in _OPTIONAL_NUMBER_COLUMNS:
            value = line[start:end].strip()
            if value and not _is_float(value):
                errors.add(
                    f"line {number}, characters {start + 1}-{end}: {record} record has "
                    f"{label} {value!r}, which is not a number",
                    line=number,
                    column=start + 1,
                )
    return atoms


def _well_formed(line: str) -> bool:
    """The common case in one step: every numeric column of an atom record holds a
    finite number. Anything else goes through the checks that name the column."""
    if len(line) < 54:
        return False
    try:
        int(line[22:26])
        total = float(line[30:38]) + float(line[38:46]) + float(line[46:54])
        for start, end in ((54, 60), (60, 66)):
            value = line[start:end]
            if value.strip():
                total += float(value)
    except ValueError:
        return False
    return math.isfinite(total)


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _is_float(value: str) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return math.isfinite(number)


def _read_pdb(text: str, errors: ErrorList) -> gemmi.Structure:
    atoms = check_pdb_text(text, errors)
    errors.raise_if_any()
    if atoms == 0:
        errors.add("the file has no atoms: there is no ATOM or HETATM record")
        errors.raise_if_any()
    try:
        return gemmi.read_pdb_string(text)
    except (RuntimeError, ValueError) as exc:
        message = str(exc).strip()
        found = _GEMMI_PDB_ERROR.search(message)
        line = int(found.group(1)) if found else None
        errors.add(f"the PDB file could not be read: {message}", line=line)
        errors.raise_if_any()
        raise


def _read_mmcif(text: str, errors: ErrorList) -> gemmi.Structure:
    try:
        document = gemmi.cif.read_string(text)
    except (RuntimeError, ValueError) as exc:
        message = str(exc).strip()
        found = _GEMMI_CIF_ERROR.match(message)
        if found is None:
            errors.add(f"mmCIF syntax error: {message}")
        else:
            line, column, reason = int(found.group(1)), int(found.group(2)) + 1, found.group(3)
            if reason.startswith("Wrong number of values in loop"):
                reason += (
                    " (the loop starts on this line; its values do not fill whole rows, "
                    "so the file may be cut short)"
                )
            errors.add(
                f"line {line}, character {column}: mmCIF syntax error: {reason}",
                line=line,
                column=column,
            )
        errors.raise_if_any()
        raise
    block = next((b for b in document if b.find_mmcif_category("_atom_site.")), None)
    if block is None:
        names = ", ".join(f"data_{b.name}" for b in document) or "none"
        errors.add(
            f"the file has no atoms: no data block has an _atom_site table (blocks: {names})"
        )
        errors.raise_if_any()
        raise AssertionError("unreachable")
    _check_atom_site(block, split_lines(text), errors)
    errors.raise_if_any()
    try:
        return gemmi.make_structure_from_block(block)
    except Exception as exc:  # gemmi reports missing columns with assorted types
        errors.add(
            f"data_{block.name}: the _atom_site table cannot be read as a structure: "
            f"{exc or type(exc).__name__}"
        )
        errors.raise_if_any()
        raise


#: Columns gemmi needs to build atoms (without one it silently reads none), each
#: with the alternatives it accepts in its place.
_REQUIRED_ATOM_SITE = (
    ("id",),
    ("type_symbol",),
    ("label_atom_id", "auth_atom_id"),
    ("label_alt_id",),
    ("label_comp_id", "auth_comp_id"),
    ("label_asym_id",),
    ("Cartn_x",),
    ("Cartn_y",),
    ("Cartn_z",),
)


def _check_atom_site(block: gemmi.cif.Block, lines: list[str], errors: ErrorList) -> None:
    """The table needs the columns gemmi reads and three numeric coordinates per atom;
    gemmi would otherwise drop the atoms or read a bad coordinate as NaN."""
    present = {
        tag.lower().removeprefix("_atom_site.")
        for tag in block.find_mmcif_category("_atom_site.").tags
    }
    missing = [
        "_atom_site." + " or _atom_site.".join(choices)
        for choices in _REQUIRED_ATOM_SITE
        if not any(choice.lower() in present for choice in choices)
    ]
    if missing:
        errors.add(
            f"data_{block.name}: the _atom_site table has no {', '.join(missing)} column; "
            "atoms cannot be read without it"
        )
        return
    table = block.find("_atom_site.", ["id", "Cartn_x", "Cartn_y", "Cartn_z"])
    first_row = _first_row_line(lines)
    for row_number, row in enumerate(table, start=1):
        atom_id = row[0]
        for axis, position in (("x", 1), ("y", 2), ("z", 3)):
            value = row[position]
            if math.isfinite(gemmi.cif.as_number(value)):
                continue
            line = _row_line(lines, first_row, row_number, row)
            where = f"line {line}: " if line else ""
            errors.add(
                f"{where}atom_site row {row_number} (atom {atom_id}): Cartn_{axis} is "
                f"{value!r}, which is not a number",
                line=line,
                row=row_number,
                atom=atom_id,
            )


def _first_row_line(lines: list[str]) -> int | None:
    """Index of the line after the last ``_atom_site.`` tag of the loop header."""
    last_tag = None
    for position, line in enumerate(lines):
        if line.lstrip().lower().startswith("_atom_site."):
            last_tag = position
    return None if last_tag is None else last_tag + 1


def _row_line(lines: list[str], first_row: int | None, row_number: int, row: Any) -> int | None:
    """The 1-based line of a loop row when rows are one per line (as in files written
    by the wwPDB and common tools); None when that layout does not hold."""
    if first_row is None:
        return None
    position = first_row + row_number - 1
    if position >= len(lines):
        return None
    tokens = lines[position].split()
    values = [row.str(i) for i in (1, 2, 3)]
    return position + 1 if all(v in tokens for v in values) else None


def read_structure(
    item: JobInput, index: int, accepted: tuple[str, ...], max_atoms: int
) -> gemmi.Structure:
    """Parse a PDB or mmCIF input after checking it, raising a located ValidationError."""
    errors = ErrorList(index=index, slot=item.slot_id)
    if not item.content.strip():
        fail("the file is empty", index=index, slot=item.slot_id)
    detected = sniff_format(item.content)
    declared = item.format.lower()
    if declared:
        declared_kind = "mmcif" if declared in MMCIF_FORMATS else "pdb"
    else:
        declared_kind = detected or accepted[0]
    kind = declared_kind
    if detected is not None and detected != declared_kind:
        if detected in accepted:
            kind = detected
        else:
            described = "mmCIF (it starts with a data_ block)" if detected == "mmcif" else "PDB"
            readable = " or ".join("mmCIF" if a == "mmcif" else "PDB" for a in accepted)
            fail(
                f"the file looks like {described}, but this tool reads {readable}",
                index=index,
                slot=item.slot_id,
            )
    if kind == "mmcif":
        structure = _read_mmcif(item.content, errors)
    else:
        structure = _read_pdb(item.content, errors)
    structure.remove_empty_chains()
    atoms = sum(model.count_atom_sites() for model in structure)
    if len(structure) == 0 or atoms == 0:
        fail("the file has no atoms", index=index, slot=item.slot_id)
    if atoms > max_atoms:
        fail(
            f"the structure has {atoms:,} atoms; the limit is {max_atoms:,}",
            index=index,
            slot=item.slot_id,
        )
    structure.setup_entities()
    return structure


def structure_counts(structure: gemmi.Structure) -> tuple[JsonDict, list[JsonDict]]:
    """Counts for the first model (fields) and one row per chain; the row keys differ
    from the field keys so a table of both keeps the job's totals."""
    model = structure[0]
    rows: list[JsonDict] = []
    for number, chain in enumerate(model, start=1):
        polymer = chain.get_polymer()
        rows.append(
            {
                "index": number,
                "chain": chain.name,
                "chain_residues": len(chain),
                "chain_atoms": sum(len(residue) for residue in chain),
                "polymer_type": _polymer_type(polymer) if len(polymer) else "none",
            }
        )
    fields = {
        "models": len(structure),
        "chains": len(model),
        "residues": sum(len(chain) for chain in model),
        "atoms": model.count_atom_sites(),
    }
    return fields, rows


_POLYMER_TYPES = {
    "PeptideL": "protein",
    "PeptideD": "protein (D)",
    "Dna": "DNA",
    "Rna": "RNA",
    "DnaRnaHybrid": "DNA/RNA",
}


def _polymer_type(polymer: Any) -> str:
    kind = str(polymer.check_polymer_type().name)
    return _POLYMER_TYPES.get(kind, kind)


_STRUCTURE_OUTPUTS = (
    OutputField("models", "models in the file"),
    OutputField("chains", "chains in the first model"),
    OutputField("residues", "residues in the first model, ligands and waters included"),
    OutputField("atoms", "atom sites in the first model"),
    OutputField("chain", "chain name (per-chain rows)"),
    OutputField("chain_residues", "residues in the chain (per-chain rows)"),
    OutputField("chain_atoms", "atom sites in the chain (per-chain rows)"),
    OutputField("polymer_type", "protein, DNA, RNA or none (per-chain rows)"),
)


class _Conversion(Tool):
    """Shared body of the two format converters."""

    category = "structure"
    subcategory = "conversion"
    libraries = ("gemmi",)
    time_limit_s = 120.0
    outputs = _STRUCTURE_OUTPUTS
    limits: ClassVar[JsonDict] = _STRUCTURE_LIMITS
    source: ClassVar[tuple[str, ...]]

    def _read(self, inputs: Sequence[JobInput]) -> tuple[JobInput, gemmi.Structure]:
        index, item = only_item(inputs, _SLOT)
        check_size(item, index, self.limits["max_file_bytes"])
        return item, read_structure(item, index, self.source, self.limits["max_atoms"])

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._read(inputs)

    @abstractmethod
    def _write(self, structure: gemmi.Structure) -> tuple[str, str, str]:
        """(text, file extension, format name) of the converted structure."""

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        item, structure = self._read(inputs)
        context.progress(0.4, "structure read")
        fields, rows = structure_counts(structure)
        stem = file_stem(item, "structure")
        structure.name = stem
        text, extension, format_name = self._write(structure)
        context.progress(0.9, "written")
        out = context.write_file(f"{stem}.{extension}", text, format_name)
        context.progress(1.0, "done")
        return ToolResult(fields=fields, rows=rows, files=[out])


class PdbToMmcif(_Conversion):
    """Convert a PDB file to mmCIF, the wwPDB's archive format."""

    id = "pdb-to-mmcif"
    name = "PDB to mmCIF"
    description = (
        "Convert a PDB-format structure to PDBx/mmCIF with gemmi, keeping every model, "
        "chain, atom and coordinate; entities are assigned from the chains."
    )
    tags = ("structure", "conversion", "pdb", "mmcif")
    slots = (
        InputSlot(
            id=_SLOT,
            kind="structure",
            formats=PDB_FORMATS,
            label="PDB file",
            description="A structure in PDB format (ATOM/HETATM records).",
        ),
    )
    source = PDB_FORMATS[:1]

    def _write(self, structure: gemmi.Structure) -> tuple[str, str, str]:
        structure.assign_label_seq_id(False)
        return structure.make_mmcif_document().as_string(), "cif", "mmcif"


class MmcifToPdb(_Conversion):
    """Convert an mmCIF file to the fixed-column PDB format older programs read."""

    id = "mmcif-to-pdb"
    name = "mmCIF to PDB"
    description = (
        "Convert a PDBx/mmCIF structure to PDB format with gemmi. Chain names longer "
        "than the PDB's two columns are shortened, as are five-character residue codes."
    )
    tags = ("structure", "conversion", "pdb", "mmcif")
    slots = (
        InputSlot(
            id=_SLOT,
            kind="structure",
            formats=MMCIF_FORMATS,
            label="mmCIF file",
            description="A structure in PDBx/mmCIF format with an _atom_site table.",
        ),
    )
    source = ("mmcif",)

    def _write(self, structure: gemmi.Structure) -> tuple[str, str, str]:
        if any(len(chain.name) > 2 for model in structure for chain in model):
            structure.shorten_chain_names()
        structure.shorten_ccd_codes()
        return structure.make_pdb_string(), "pdb", "pdb"


class StructureSequenceSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    line_width: int = pydantic.Field(
        60, ge=0, le=10_000, description="FASTA line width; 0 writes each sequence on one line"
    )


@dataclass(frozen=True)
class ChainSequence:
    chain: str
    polymer_type: str
    sequence: str
    gaps: int
    first_residue: str
    last_residue: str


def chain_sequences(structure: gemmi.Structure) -> list[ChainSequence]:
    """The residue sequence of each polymer chain in the first model, as modelled
    (missing residues are absent; ``gaps`` counts the breaks gemmi detects)."""
    result: list[ChainSequence] = []
    for chain in structure[0]:
        polymer = chain.get_polymer()
        if not len(polymer):
            continue
        letters = []
        for residue in polymer:
            info = gemmi.find_tabulated_residue(residue.name)
            code = info.one_letter_code.strip().upper() if info is not None else ""
            letters.append(code or "X")
        result.append(
            ChainSequence(
                chain=chain.name,
                polymer_type=_polymer_type(polymer),
                sequence="".join(letters),
                gaps=polymer.make_one_letter_sequence().count("-"),
                first_residue=str(polymer[0].seqid),
                last_residue=str(polymer[len(polymer) - 1].seqid),
            )
        )
    return result


class StructureToSequence(Tool):
    """Extract the sequence of every polymer chain of a structure as FASTA."""

    id = "structure-to-sequence"
    name = "Structure to sequence"
    description = (
        "Read a PDB or mmCIF structure and write the modelled sequence of each protein "
        "or nucleic-acid chain (first model) as FASTA, one record per chain."
    )
    category = "structure"
    subcategory = "analysis"
    libraries = ("gemmi",)
    tags = ("structure", "sequence", "fasta", "pdb", "mmcif")
    time_limit_s = 120.0
    slots = (
        InputSlot(
            id=_SLOT,
            kind="structure",
            formats=PDB_FORMATS + MMCIF_FORMATS,
            label="Structure",
            description="A structure in PDB or PDBx/mmCIF format.",
        ),
    )
    outputs = (
        OutputField("chains", "polymer chains written"),
        OutputField("residues", "residues over all polymer chains", "residues"),
        OutputField("chain", "chain name (per-chain rows)"),
        OutputField("polymer_type", "protein, DNA or RNA (per-chain rows)"),
        OutputField("length", "modelled residues in the chain", "residues"),
        OutputField("gaps", "breaks in the chain where residues are not modelled"),
        OutputField("first_residue", "number of the first residue"),
        OutputField("last_residue", "number of the last residue"),
        OutputField("sequence", "one-letter sequence; X for an unknown residue"),
    )
    settings_model = StructureSequenceSettings
    limits: ClassVar[JsonDict] = _STRUCTURE_LIMITS

    def _read(self, inputs: Sequence[JobInput]) -> tuple[JobInput, list[ChainSequence]]:
        index, item = only_item(inputs, _SLOT)
        check_size(item, index, self.limits["max_file_bytes"])
        structure = read_structure(item, index, ("pdb", "mmcif"), self.limits["max_atoms"])
        chains = chain_sequences(structure)
        if not chains:
            fail(
                "the structure has atoms but no protein or nucleic-acid chain",
                index=index,
                slot=_SLOT,
            )
        return item, chains

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._read(inputs)

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        options = settings_as(settings, StructureSequenceSettings)
        item, chains = self._read(inputs)
        context.progress(0.5, "structure read")
        stem = file_stem(item, "structure")
        rows: list[JsonDict] = [
            {
                "index": number,
                "chain": c.chain,
                "polymer_type": c.polymer_type,
                "length": len(c.sequence),
                "gaps": c.gaps,
                "first_residue": c.first_residue,
                "last_residue": c.last_residue,
                "sequence": c.sequence,
            }
            for number, c in enumerate(chains, start=1)
        ]
        headers = [
            f"{stem}_{c.chain} {c.polymer_type}, residues {c.first_residue} to {c.last_residue}"
            for c in chains
        ]
        fasta = format_fasta(
            zip(headers, (c.sequence for c in chains), strict=True), options.line_width
        )
        out = context.write_file(f"{stem}.fasta", fasta, "fasta")
        context.progress(1.0, "done")
        summary: dict[str, Any] = {
            "chains": len(rows),
            "residues": sum(r["length"] for r in rows),
        }
        return ToolResult(fields=summary_fields(summary, rows), rows=rows, files=[out])
