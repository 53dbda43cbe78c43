"""One-letter and three-letter residue codes, both ways: the tables, the reading of
three-letter text, and the tool."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pydantic

from ...jobs.model import JobInput, JsonDict, ToolResult
from ..base import InputSlot, OutputField, RunContext, Tool
from ..parsing import (
    ErrorList,
    check_size,
    file_stem,
    format_fasta,
    only_item,
    settings_as,
    split_lines,
    summary_fields,
)
from .fasta import EXTENDED_AMINO_ACIDS, SEQUENCE_SLOT, RawRecord, parse_fasta

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
    records: list[RawRecord] = []
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(">"):
            header = stripped[1:].strip()
            name = header.split()[0] if header else f"sequence {len(records) + 1}"
            records.append(RawRecord(name=name, header=header, line=number))
        else:
            if not records:
                records.append(RawRecord(name="sequence 1", header="", line=number))
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
            id=SEQUENCE_SLOT,
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
        index, item = only_item(inputs, SEQUENCE_SLOT)
        check_size(item, index, self.limits["max_file_bytes"])
        if settings.direction == "three_to_one":
            records = parse_three_letter(item.content, index=index, slot=SEQUENCE_SLOT)
            errors = ErrorList(index=index, slot=SEQUENCE_SLOT)
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
            slot=SEQUENCE_SLOT,
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
        _, item = only_item(inputs, SEQUENCE_SLOT)
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
