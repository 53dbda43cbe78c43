"""Sequence tools: ProtParam-style statistics and one/three-letter residue codes.

The statistics follow the ExPASy ProtParam definitions and are computed here in
plain Python, so the package needs no sequence library at run time.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pydantic

from ..jobs.model import JobInput, JsonDict, ToolResult
from .base import InputSlot, OutputField, RunContext, Tool
from .parsing import (
    ErrorList,
    check_size,
    file_stem,
    format_fasta,
    only_item,
    settings_as,
    split_lines,
    summary_fields,
)

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
class _RawRecord:
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
    raw: list[_RawRecord] = []
    current: _RawRecord | None = None
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith(">"):
            header = stripped[1:].strip()
            name = header.split()[0] if header else f"sequence {len(raw) + 1}"
            current = _RawRecord(name=name, header=header, line=number)
            raw.append(current)
            continue
        if current is None:
            current = _RawRecord(name=f"sequence {len(raw) + 1}", header="", line=number)
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


# -- ProtParam -------------------------------------------------------------

#: Average residue masses (Da) as ExPASy tabulates them; a chain adds one water.
AVERAGE_RESIDUE_MASS: dict[str, float] = {
    "A": 71.0788,
    "R": 156.1875,
    "N": 114.1038,
    "D": 115.0886,
    "C": 103.1388,
    "E": 129.1155,
    "Q": 128.1307,
    "G": 57.0519,
    "H": 137.1411,
    "I": 113.1594,
    "L": 113.1594,
    "K": 128.1741,
    "M": 131.1926,
    "F": 147.1766,
    "P": 97.1167,
    "S": 87.0782,
    "T": 101.1051,
    "W": 186.2132,
    "Y": 163.1760,
    "V": 99.1326,
}
WATER_AVERAGE_MASS = 18.01524

#: Kyte & Doolittle (1982) hydropathy.
KYTE_DOOLITTLE: dict[str, float] = {
    "A": 1.8,
    "R": -4.5,
    "N": -3.5,
    "D": -3.5,
    "C": 2.5,
    "Q": -3.5,
    "E": -3.5,
    "G": -0.4,
    "H": -3.2,
    "I": 4.5,
    "L": 3.8,
    "K": -3.9,
    "M": 1.9,
    "F": 2.8,
    "P": -1.6,
    "S": -0.8,
    "T": -0.7,
    "W": -0.9,
    "Y": -1.3,
    "V": 4.2,
}

# Bjellqvist et al. (1993, 1994) pKa values, with their terminus-specific values.
PK_N_TERMINUS = 7.5
PK_C_TERMINUS = 3.55
PK_N_TERMINUS_BY_RESIDUE = {
    "A": 7.59,
    "M": 7.0,
    "S": 6.93,
    "P": 8.36,
    "T": 6.82,
    "V": 7.44,
    "E": 7.7,
}
PK_C_TERMINUS_BY_RESIDUE = {"D": 4.55, "E": 4.75}
PK_POSITIVE_SIDE_CHAIN = {"K": 10.0, "R": 12.0, "H": 5.98}
PK_NEGATIVE_SIDE_CHAIN = {"D": 4.05, "E": 4.45, "C": 9.0, "Y": 10.0}

# Guruprasad, Reddy & Pandit (1990) dipeptide instability weight values (DIWV):
# the row is the first residue of the dipeptide, the column the second. The table
# is printed in two halves of ten columns to stay readable.
_DIWV_LEFT = """
      A      C      D      E      F      G      H      I      K      L
A   1.00  44.94  -7.49   1.00   1.00   1.00  -7.49   1.00   1.00   1.00
C   1.00   1.00  20.26   1.00   1.00   1.00  33.60   1.00   1.00  20.26
D   1.00   1.00   1.00   1.00  -6.54   1.00   1.00   1.00  -7.49   1.00
E   1.00  44.94  20.26  33.60   1.00   1.00  -6.54  20.26   1.00   1.00
F   1.00   1.00  13.34   1.00   1.00   1.00   1.00   1.00 -14.03   1.00
G  -7.49   1.00   1.00  -6.54   1.00  13.34   1.00  -7.49  -7.49   1.00
H   1.00   1.00   1.00   1.00  -9.37  -9.37   1.00  44.94  24.68   1.00
I   1.00   1.00   1.00  44.94   1.00   1.00  13.34   1.00  -7.49  20.26
K   1.00   1.00   1.00   1.00   1.00  -7.49   1.00  -7.49   1.00  -7.49
L   1.00   1.00   1.00   1.00   1.00   1.00   1.00   1.00  -7.49   1.00
M  13.34   1.00   1.00   1.00   1.00   1.00  58.28   1.00   1.00   1.00
N   1.00  -1.88   1.00   1.00 -14.03 -14.03   1.00  44.94  24.68   1.00
P  20.26  -6.54  -6.54  18.38  20.26   1.00   1.00   1.00   1.00   1.00
Q   1.00  -6.54  20.26  20.26  -6.54   1.00   1.00   1.00   1.00   1.00
R   1.00   1.00   1.00   1.00   1.00  -7.49  20.26   1.00   1.00   1.00
S   1.00  33.60   1.00  20.26   1.00   1.00   1.00   1.00   1.00   1.00
T   1.00   1.00   1.00  20.26  13.34  -7.49   1.00   1.00   1.00   1.00
V   1.00   1.00 -14.03   1.00   1.00  -7.49   1.00   1.00  -1.88   1.00
W -14.03   1.00   1.00   1.00   1.00  -9.37  24.68   1.00   1.00  13.34
Y  24.68   1.00  24.68  -6.54   1.00  -7.49  13.34   1.00   1.00   1.00
"""
_DIWV_RIGHT = """
      M      N      P      Q      R      S      T      V      W      Y
A   1.00   1.00  20.26   1.00   1.00   1.00   1.00   1.00   1.00   1.00
C  33.60   1.00  20.26  -6.54   1.00   1.00  33.60  -6.54  24.68   1.00
D   1.00   1.00   1.00   1.00  -6.54  20.26 -14.03   1.00   1.00   1.00
E   1.00   1.00  20.26  20.26   1.00  20.26   1.00   1.00 -14.03   1.00
F   1.00   1.00  20.26   1.00   1.00   1.00   1.00   1.00   1.00 33.601
G   1.00  -7.49   1.00   1.00   1.00   1.00  -7.49   1.00  13.34  -7.49
H   1.00  24.68  -1.88   1.00   1.00   1.00  -6.54   1.00  -1.88  44.94
I   1.00   1.00  -1.88   1.00   1.00   1.00   1.00  -7.49   1.00   1.00
K  33.60   1.00  -6.54  24.64  33.60   1.00   1.00  -7.49   1.00   1.00
L   1.00   1.00  20.26  33.60  20.26   1.00   1.00   1.00  24.68   1.00
M  -1.88   1.00  44.94  -6.54  -6.54  44.94  -1.88   1.00   1.00  24.68
N   1.00   1.00  -1.88  -6.54   1.00   1.00  -7.49   1.00  -9.37   1.00
P  -6.54   1.00  20.26  20.26  -6.54  20.26   1.00  20.26  -1.88   1.00
Q   1.00   1.00  20.26  20.26   1.00  44.94   1.00  -6.54   1.00  -6.54
R   1.00  13.34  20.26  20.26  58.28  44.94   1.00   1.00  58.28  -6.54
S   1.00   1.00  44.94  20.26  20.26  20.26   1.00   1.00   1.00   1.00
T   1.00 -14.03   1.00  -6.54   1.00   1.00   1.00   1.00 -14.03   1.00
V   1.00   1.00  20.26   1.00   1.00   1.00  -7.49   1.00   1.00  -6.54
W  24.68  13.34   1.00   1.00   1.00   1.00 -14.03  -7.49   1.00   1.00
Y  44.94   1.00  13.34   1.00 -15.91   1.00  -7.49   1.00  -9.37  13.34
"""


def _read_dipeptide_table(*halves: str) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for half in halves:
        header, *rows = half.strip().splitlines()
        columns = header.split()
        for row in rows:
            first, *values = row.split()
            table.setdefault(first, {}).update(zip(columns, map(float, values), strict=True))
    return table


DIWV: dict[str, dict[str, float]] = _read_dipeptide_table(_DIWV_LEFT, _DIWV_RIGHT)

#: Pace et al. (1995) molar absorption at 280 nm, M⁻¹ cm⁻¹.
EXTINCTION_TRP = 5500
EXTINCTION_TYR = 1490
EXTINCTION_CYSTINE = 125


def molecular_weight(sequence: str) -> float:
    """Average mass of the chain in Da: the residues plus one water."""
    return sum(AVERAGE_RESIDUE_MASS[aa] for aa in sequence) + WATER_AVERAGE_MASS


@dataclass(frozen=True)
class _Ionisable:
    """The ionisable groups of a chain: counted once, then evaluated at many pH values."""

    n_terminus_pk: float
    c_terminus_pk: float
    positive: tuple[tuple[int, float], ...]
    negative: tuple[tuple[int, float], ...]

    @classmethod
    def of(cls, sequence: str) -> _Ionisable:
        counts = Counter(sequence)
        return cls(
            n_terminus_pk=PK_N_TERMINUS_BY_RESIDUE.get(sequence[0], PK_N_TERMINUS),
            c_terminus_pk=PK_C_TERMINUS_BY_RESIDUE.get(sequence[-1], PK_C_TERMINUS),
            positive=tuple((counts[aa], pk) for aa, pk in PK_POSITIVE_SIDE_CHAIN.items()),
            negative=tuple((counts[aa], pk) for aa, pk in PK_NEGATIVE_SIDE_CHAIN.items()),
        )

    def charge(self, ph: float) -> float:
        """Henderson-Hasselbalch: each group's charged fraction, summed with signs."""
        positive = 1.0 / (1.0 + math.pow(10.0, ph - self.n_terminus_pk))
        positive += sum(n / (1.0 + math.pow(10.0, ph - pk)) for n, pk in self.positive)
        negative = 1.0 / (1.0 + math.pow(10.0, self.c_terminus_pk - ph))
        negative += sum(n / (1.0 + math.pow(10.0, pk - ph)) for n, pk in self.negative)
        return positive - negative


def charge_at_ph(sequence: str, ph: float) -> float:
    """Net charge of the chain at ``ph``."""
    return _Ionisable.of(sequence).charge(ph)


def isoelectric_point(sequence: str, tolerance: float = 1e-6) -> float:
    """The pH of zero net charge, by bisection: the charge falls monotonically with pH."""
    groups = _Ionisable.of(sequence)
    low, high = 0.0, 14.0
    while high - low > tolerance:
        middle = (low + high) / 2.0
        if groups.charge(middle) > 0.0:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def instability_index(sequence: str) -> float:
    """Guruprasad's index: 10/L times the sum of DIWV over consecutive dipeptides.
    Above 40 the protein is predicted to be unstable in a test tube."""
    total = sum(DIWV[a][b] for a, b in itertools.pairwise(sequence))
    return 10.0 / len(sequence) * total


def gravy(sequence: str) -> float:
    """Grand average of hydropathy: the mean Kyte-Doolittle value."""
    return sum(KYTE_DOOLITTLE[aa] for aa in sequence) / len(sequence)


def aromaticity(sequence: str) -> float:
    """Lobry's aromaticity: the fraction of Phe, Trp and Tyr."""
    return sum(sequence.count(aa) for aa in "FWY") / len(sequence)


def extinction_coefficients(sequence: str) -> tuple[int, int]:
    """Molar extinction at 280 nm in water: (all Cys reduced, all Cys pairs cystines)."""
    reduced = sequence.count("W") * EXTINCTION_TRP + sequence.count("Y") * EXTINCTION_TYR
    return reduced, reduced + (sequence.count("C") // 2) * EXTINCTION_CYSTINE


def protein_statistics(sequence: str) -> JsonDict:
    """All ProtParam values of one sequence, rounded as ExPASy reports them."""
    mass = molecular_weight(sequence)
    ext_reduced, ext_cystines = extinction_coefficients(sequence)
    instability = instability_index(sequence)
    return {
        "length": len(sequence),
        "molecular_weight": round(mass, 2),
        "isoelectric_point": round(isoelectric_point(sequence), 2),
        "charge_ph7": round(charge_at_ph(sequence, 7.0), 2),
        "instability_index": round(instability, 2),
        "stable": instability < 40.0,
        "gravy": round(gravy(sequence), 3),
        "aromaticity": round(aromaticity(sequence), 4),
        "extinction_coefficient_reduced": ext_reduced,
        "extinction_coefficient_cystines": ext_cystines,
        "abs_0_1_percent_reduced": round(ext_reduced / mass, 3),
        "abs_0_1_percent_cystines": round(ext_cystines / mass, 3),
    }


# -- tools -----------------------------------------------------------------

_SEQUENCE_SLOT = "sequences"


class ProteinStats(Tool):
    """Physico-chemical parameters of protein sequences (ExPASy ProtParam)."""

    id = "protein-stats"
    name = "Protein statistics"
    description = (
        "Length, average molecular weight, theoretical pI, net charge at pH 7, "
        "instability index, GRAVY, aromaticity and extinction coefficients of each "
        "protein sequence, as ExPASy ProtParam defines them."
    )
    category = "sequence"
    subcategory = "analysis"
    tags = ("protein", "protparam", "molecular weight", "isoelectric point", "fasta")
    time_limit_s = 60.0
    slots = (
        InputSlot(
            id=_SEQUENCE_SLOT,
            kind="protein",
            formats=("fasta", "text"),
            label="Protein sequences",
            description=(
                "FASTA with one or more records, or a bare sequence. Only the 20 "
                "standard amino acids; whitespace, lower case and a final '*' are fine."
            ),
        ),
    )
    outputs = (
        OutputField("sequences", "number of sequences in the job"),
        OutputField("total_length", "residues over all sequences", "residues"),
        OutputField("name", "record name: the first word of the FASTA header"),
        OutputField("length", "sequence length", "residues"),
        OutputField("molecular_weight", "average molecular weight", "Da"),
        OutputField("isoelectric_point", "theoretical pI (Bjellqvist pKa values)", "pH"),
        OutputField("charge_ph7", "net charge at pH 7.0", "e"),
        OutputField("instability_index", "Guruprasad instability index"),
        OutputField("stable", "instability index below 40"),
        OutputField("gravy", "grand average of hydropathy (Kyte-Doolittle)"),
        OutputField("aromaticity", "fraction of Phe, Trp and Tyr"),
        OutputField("extinction_coefficient_reduced", "at 280 nm, all Cys reduced", "M^-1 cm^-1"),
        OutputField(
            "extinction_coefficient_cystines",
            "at 280 nm, all Cys pairs forming cystines",
            "M^-1 cm^-1",
        ),
        OutputField("abs_0_1_percent_reduced", "absorbance of a 1 g/L solution, Cys reduced"),
        OutputField("abs_0_1_percent_cystines", "absorbance of a 1 g/L solution, cystines"),
    )
    limits: ClassVar[JsonDict] = {
        "max_file_bytes": 5_000_000,
        "max_sequences": 1000,
        "max_sequence_length": 50_000,
    }

    def _records(self, inputs: Sequence[JobInput]) -> list[FastaRecord]:
        index, item = only_item(inputs, _SEQUENCE_SLOT)
        check_size(item, index, self.limits["max_file_bytes"])
        return parse_fasta(
            item.content,
            index=index,
            slot=_SEQUENCE_SLOT,
            max_records=self.limits["max_sequences"],
            max_length=self.limits["max_sequence_length"],
        )

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._records(inputs)

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        records = self._records(inputs)
        rows: list[JsonDict] = []
        for number, record in enumerate(records, start=1):
            rows.append(
                {"index": number, "name": record.name, **protein_statistics(record.sequence)}
            )
            context.progress(0.9 * number / len(records), f"sequence {number} of {len(records)}")
        _, item = only_item(inputs, _SEQUENCE_SLOT)
        csv_file = context.write_file(
            f"{file_stem(item, 'protein')}_stats.csv", _rows_to_csv(rows), "csv"
        )
        context.progress(1.0, "done")
        summary = {"sequences": len(rows), "total_length": sum(r["length"] for r in rows)}
        return ToolResult(fields=summary_fields(summary, rows), rows=rows, files=[csv_file])


def _rows_to_csv(rows: list[JsonDict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


ONE_TO_THREE: dict[str, str] = {
    "A": "Ala",
    "R": "Arg",
    "N": "Asn",
    "D": "Asp",
    "C": "Cys",
    "Q": "Gln",
    "E": "Glu",
    "G": "Gly",
    "H": "His",
    "I": "Ile",
    "L": "Leu",
    "K": "Lys",
    "M": "Met",
    "F": "Phe",
    "P": "Pro",
    "S": "Ser",
    "T": "Thr",
    "W": "Trp",
    "Y": "Tyr",
    "V": "Val",
    "U": "Sec",
    "O": "Pyl",
    "B": "Asx",
    "Z": "Glx",
    "J": "Xle",
    "X": "Xaa",
}
#: Upper-case three-letter code to one letter; ``UNK`` is the PDB's unknown residue.
THREE_TO_ONE: dict[str, str] = {code.upper(): one for one, code in ONE_TO_THREE.items()}
THREE_TO_ONE["UNK"] = "X"

_SEPARATORS = {"dash": "-", "space": " ", "comma": ", ", "none": ""}
_TOKEN = re.compile(r"[^\s,;\-]+")


class ResidueCodesSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    direction: Literal["one_to_three", "three_to_one"] = pydantic.Field(
        "one_to_three",
        description="one_to_three: FASTA to 'Met-Lys-…'; three_to_one: 'MET LYS …' to FASTA",
    )
    separator: Literal["dash", "space", "comma", "none"] = pydantic.Field(
        "dash", description="between three-letter codes (one_to_three)"
    )
    letter_case: Literal["title", "upper"] = pydantic.Field(
        "title", description="'Met' or 'MET' (one_to_three)"
    )
    line_width: int = pydantic.Field(
        60, ge=0, le=10_000, description="FASTA line width, 0 for one line (three_to_one)"
    )


@dataclass(frozen=True)
class _CodedRecord:
    name: str
    header: str
    sequence: str


def parse_three_letter(
    text: str, *, index: int | None = None, slot: str | None = None
) -> list[_CodedRecord]:
    """Read three-letter codes separated by spaces, dashes, commas or newlines (or run
    together, as in 'MetLysThr'); '>' lines start named records as in FASTA."""
    errors = ErrorList(index=index, slot=slot)
    records: list[_RawRecord] = []
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(">"):
            header = stripped[1:].strip()
            name = header.split()[0] if header else f"sequence {len(records) + 1}"
            records.append(_RawRecord(name=name, header=header, line=number))
        else:
            if not records:
                records.append(_RawRecord(name="sequence 1", header="", line=number))
            records[-1].lines.append((number, line))

    result: list[_CodedRecord] = []
    for rec in records:
        residues: list[str] = []
        faulty = False
        for number, line in rec.lines:
            for match in _TOKEN.finditer(line):
                token = match.group().upper()
                if token in THREE_TO_ONE:
                    residues.append(THREE_TO_ONE[token])
                    continue
                chunks = [token[i : i + 3] for i in range(0, len(token), 3)]
                if len(token) % 3 == 0 and all(c in THREE_TO_ONE for c in chunks):
                    residues.extend(THREE_TO_ONE[c] for c in chunks)
                    continue
                faulty = True
                column = match.start() + 1
                errors.add(
                    f"record {rec.name!r}, line {number}, character {column}: "
                    f"{match.group()!r} (residue {len(residues) + 1}) is not a "
                    "three-letter amino-acid code",
                    record=rec.name,
                    line=number,
                    column=column,
                    token=match.group(),
                    residue=len(residues) + 1,
                )
        if not residues and not faulty:
            errors.add(
                f"record {rec.name!r}, line {rec.line}: the record has no residues",
                record=rec.name,
                line=rec.line,
            )
        result.append(_CodedRecord(rec.name, rec.header, "".join(residues)))
    if not result:
        errors.add("the input has no residue codes")
    errors.raise_if_any()
    return result


class ResidueCodes(Tool):
    """Convert between one-letter and three-letter amino-acid codes."""

    id = "residue-codes"
    name = "Residue code converter"
    description = (
        "Turn a one-letter sequence into three-letter codes (Met-Lys-Thr…) or "
        "three-letter codes (MET LYS THR, Met-Lys-Thr) back into FASTA."
    )
    category = "sequence"
    subcategory = "conversion"
    tags = ("protein", "conversion", "three-letter", "one-letter", "fasta")
    time_limit_s = 60.0
    slots = (
        InputSlot(
            id=_SEQUENCE_SLOT,
            kind="protein",
            formats=("fasta", "text"),
            label="Sequences or residue codes",
            description=(
                "one_to_three: FASTA or a bare sequence (IUPAC letters, including "
                "U, O, B, Z, J, X). three_to_one: codes separated by spaces, dashes, "
                "commas or newlines; '>' lines name records."
            ),
        ),
    )
    outputs = (
        OutputField("direction", "one_to_three or three_to_one"),
        OutputField("records", "number of sequences converted"),
        OutputField("residues", "residues over all sequences", "residues"),
        OutputField("name", "record name"),
        OutputField("length", "residues in the record", "residues"),
        OutputField("converted", "the record in the other code"),
    )
    settings_model = ResidueCodesSettings
    limits: ClassVar[JsonDict] = {
        "max_file_bytes": 5_000_000,
        "max_sequences": 1000,
        "max_sequence_length": 100_000,
    }

    def _records(
        self, inputs: Sequence[JobInput], settings: ResidueCodesSettings
    ) -> list[_CodedRecord]:
        index, item = only_item(inputs, _SEQUENCE_SLOT)
        check_size(item, index, self.limits["max_file_bytes"])
        if settings.direction == "three_to_one":
            records = parse_three_letter(item.content, index=index, slot=_SEQUENCE_SLOT)
            errors = ErrorList(index=index, slot=_SEQUENCE_SLOT)
            if len(records) > self.limits["max_sequences"]:
                errors.add(
                    f"the input has {len(records)} sequences; "
                    f"the limit is {self.limits['max_sequences']}"
                )
            for rec in records:
                if len(rec.sequence) > self.limits["max_sequence_length"]:
                    errors.add(
                        f"record {rec.name!r} has {len(rec.sequence):,} residues; "
                        f"the limit is {self.limits['max_sequence_length']:,}",
                        record=rec.name,
                    )
            errors.raise_if_any()
            return records
        fasta = parse_fasta(
            item.content,
            alphabet=EXTENDED_AMINO_ACIDS,
            allowed="use IUPAC amino-acid letters (the 20 standard, U, O, B, Z, J or X)",
            index=index,
            slot=_SEQUENCE_SLOT,
            max_records=self.limits["max_sequences"],
            max_length=self.limits["max_sequence_length"],
        )
        return [_CodedRecord(r.name, r.header, r.sequence) for r in fasta]

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._records(inputs, settings_as(settings, ResidueCodesSettings))

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        options = settings_as(settings, ResidueCodesSettings)
        records = self._records(inputs, options)
        _, item = only_item(inputs, _SEQUENCE_SLOT)
        stem = file_stem(item, "sequences")
        rows: list[JsonDict] = []
        if options.direction == "one_to_three":
            separator = _SEPARATORS[options.separator]
            blocks: list[str] = []
            for number, rec in enumerate(records, start=1):
                codes = [ONE_TO_THREE[aa] for aa in rec.sequence]
                if options.letter_case == "upper":
                    codes = [c.upper() for c in codes]
                converted = separator.join(codes)
                rows.append(
                    {
                        "index": number,
                        "name": rec.name,
                        "length": len(codes),
                        "converted": converted,
                    }
                )
                blocks.append(f">{rec.header or rec.name}\n{converted}\n")
            out = context.write_file(f"{stem}_three_letter.txt", "".join(blocks), "text")
        else:
            for number, rec in enumerate(records, start=1):
                rows.append(
                    {
                        "index": number,
                        "name": rec.name,
                        "length": len(rec.sequence),
                        "converted": rec.sequence,
                    }
                )
            fasta = format_fasta(
                ((rec.header or rec.name, rec.sequence) for rec in records), options.line_width
            )
            out = context.write_file(f"{stem}.fasta", fasta, "fasta")
        context.progress(1.0, "done")
        summary: dict[str, Any] = {
            "direction": options.direction,
            "records": len(rows),
            "residues": sum(r["length"] for r in rows),
        }
        return ToolResult(fields=summary_fields(summary, rows), rows=rows, files=[out])
