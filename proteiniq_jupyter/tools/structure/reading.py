"""Structures read with gemmi, PDB and mmCIF, for the structure tools and the
docking receptor: the format sniffed, the text checked, the counts of a model.

gemmi is forgiving (a coordinate it cannot read becomes 0 or NaN), so the text is
checked here first and every problem is reported with its line and columns.
"""

from __future__ import annotations

import math
import re
from typing import Any

import gemmi

from ...jobs.model import JobInput, JsonDict
from ..parsing import (
    ErrorList,
    fail,
    split_lines,
)

PDB_FORMATS = ("pdb", "ent")
MMCIF_FORMATS = ("mmcif", "cif")


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
                "polymer_type": polymer_type(polymer) if len(polymer) else "none",
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


def polymer_type(polymer: Any) -> str:
    kind = str(polymer.check_polymer_type().name)
    return _POLYMER_TYPES.get(kind, kind)
