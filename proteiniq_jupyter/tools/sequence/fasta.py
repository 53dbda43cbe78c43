"""FASTA as people write it: records, their headers and sequences, and errors that
name the line and the character; the amino-acid alphabets."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..parsing import ErrorList, split_lines

STANDARD_AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
#: The standard 20 plus selenocysteine, pyrrolysine and the IUPAC ambiguity codes.
EXTENDED_AMINO_ACIDS = STANDARD_AMINO_ACIDS + "UOBZJX"

_CHARACTER_NAMES = {
    "X": "an unknown residue",
    "B": "ambiguous Asp/Asn",
    "Z": "ambiguous Glu/Gln",
    "J": "ambiguous Leu/Ile",
    "U": "selenocysteine",
    "O": "pyrrolysine",
    "-": "an alignment gap",
    ".": "an alignment gap",
}


# -- FASTA -----------------------------------------------------------------


@dataclass(frozen=True)
class FastaRecord:
    """One parsed record. ``line`` is where it starts in the submitted text."""

    name: str
    header: str
    sequence: str
    line: int


@dataclass
class RawRecord:
    """A record as it is read, before its lines are checked and joined."""

    name: str
    header: str
    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)


def _describe(char: str) -> str:
    if char.isdigit():
        return f"digit {char!r}"
    name = _CHARACTER_NAMES.get(char.upper())
    return f"{char!r} ({name})" if name else f"character {char!r}"


def parse_fasta(
    text: str,
    *,
    alphabet: str = STANDARD_AMINO_ACIDS,
    allowed: str = "only the 20 standard amino-acid letters are accepted",
    index: int | None = None,
    slot: str | None = None,
    max_records: int | None = None,
    max_length: int | None = None,
) -> list[FastaRecord]:
    """Parse FASTA (or a bare sequence) into records, upper-cased and without
    whitespace. A ``*`` ending a record is a stop marker and is dropped.

    Every fault is reported together, each naming its record, its 1-based line in
    ``text`` and its 1-based character in that line, so a user can go straight to it.
    """
    errors = ErrorList(index=index, slot=slot)
    raw: list[RawRecord] = []
    current: RawRecord | None = None
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith(">"):
            header = stripped[1:].strip()
            name = header.split()[0] if header else f"sequence {len(raw) + 1}"
            current = RawRecord(name=name, header=header, line=number)
            raw.append(current)
            continue
        if current is None:
            current = RawRecord(name=f"sequence {len(raw) + 1}", header="", line=number)
            raw.append(current)
        current.lines.append((number, line))

    if not raw:
        errors.add("the input has no sequence (it is empty or only comments)")
        errors.raise_if_any()
    if max_records is not None and len(raw) > max_records:
        errors.add(f"the input has {len(raw)} sequences; the limit is {max_records}")
        errors.raise_if_any()

    records: list[FastaRecord] = []
    for rec in raw:
        last_place = _last_character(rec.lines)
        residues: list[str] = []
        faulty = False
        for number, line in rec.lines:
            for column, char in enumerate(line, start=1):
                if char.isspace():
                    continue
                upper = char.upper()
                if upper in alphabet:
                    residues.append(upper)
                    continue
                if char == "*" and (number, column) == last_place:
                    continue
                faulty = True
                place = f"record {rec.name!r}, line {number}, character {column}"
                if char == "*":
                    problem = "'*' (a stop) inside the sequence; only a final '*' is accepted"
                else:
                    problem = f"{_describe(char)} is not allowed; {allowed}"
                errors.add(
                    f"{place}: {problem}",
                    record=rec.name,
                    line=number,
                    column=column,
                    character=char,
                )
        if not residues and not faulty:
            errors.add(
                f"record {rec.name!r}, line {rec.line}: the record has no sequence",
                record=rec.name,
                line=rec.line,
            )
        if max_length is not None and len(residues) > max_length:
            errors.add(
                f"record {rec.name!r}, line {rec.line}: the sequence is {len(residues):,} "
                f"residues long; the limit is {max_length:,}",
                record=rec.name,
                line=rec.line,
            )
        records.append(
            FastaRecord(name=rec.name, header=rec.header, sequence="".join(residues), line=rec.line)
        )
    errors.raise_if_any()
    return records


def _last_character(lines: list[tuple[int, str]]) -> tuple[int, int] | None:
    """(line, column) of the last non-blank character of a record."""
    for number, line in reversed(lines):
        stripped = line.rstrip()
        if stripped:
            return number, len(stripped)
    return None


#: The slot of the sequence tools (statistics, residue codes).
SEQUENCE_SLOT = "sequences"
