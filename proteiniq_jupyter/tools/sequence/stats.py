"""ProtParam-style statistics of protein sequences, and the tool that reports them.

The statistics follow the ExPASy ProtParam definitions and are computed here in
plain Python, so the package needs no sequence library at run time."""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pydantic

from ...jobs.model import JobInput, JsonDict, ToolResult
from ..base import InputSlot, OutputField, RunContext, Tool
from ..parsing import check_size, file_stem, only_item, summary_fields
from .fasta import SEQUENCE_SLOT, FastaRecord, parse_fasta

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
            id=SEQUENCE_SLOT,
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
        index, item = only_item(inputs, SEQUENCE_SLOT)
        check_size(item, index, self.limits["max_file_bytes"])
        return parse_fasta(
            item.content,
            index=index,
            slot=SEQUENCE_SLOT,
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
        _, item = only_item(inputs, SEQUENCE_SLOT)
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
