"""A prediction's input: protein chains, ligands, and the one-line-per-complex batch
syntax, each checked with the line and character of a problem."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rdkit import Chem

from ...jobs.model import JobInput
from ..molecule import chemistry_problems, rdkit_log, summarise_log
from ..parsing import ErrorList, entry_lines, format_fasta
from ..sequence import STANDARD_AMINO_ACIDS

#: Both programs read X as an unknown residue; other ambiguity codes they reject.
PROTEIN_ALPHABET = STANDARD_AMINO_ACIDS + "X"
PROTEIN_LETTERS = "use the one-letter codes of the 20 standard amino acids (or X for unknown)"


@dataclass(frozen=True)
class Ligand:
    """A small molecule given by SMILES or by its PDB Chemical Component code."""

    kind: Literal["smiles", "ccd"]
    value: str
    name: str

    def as_line(self) -> str:
        """The ligand in the ligands-input syntax: ``smiles=...`` or ``ccd=...``."""
        return f"{self.kind}={self.value} {self.name}"


@dataclass(frozen=True)
class BatchLine:
    """One job of a batch input: the line it came from, its name and content."""

    line: int
    name: str | None
    chains: tuple[str, ...]
    ligands: tuple[Ligand, ...]

    @property
    def label(self) -> str:
        return self.name or f"line {self.line}"

    def protein_input(self, base: str, slot: str) -> JobInput:
        """The line's chains as one job's FASTA input, records named after the line
        and lettered A, B, ... in order."""
        prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label)
        records = (
            (f"{prefix}_{letter}", seq)
            for letter, seq in zip(string.ascii_uppercase, self.chains, strict=False)
        )
        return JobInput(
            id=f"{base}_line{self.line}",
            slot_id=slot,
            kind="protein",
            format="fasta",
            content=format_fasta(records, width=0),
            label=self.label,
        )


_CCD_CODE = re.compile(r"[A-Za-z0-9]{1,5}")
LIGAND_KEYS = ("smiles", "ccd")


def check_smiles(smiles: str) -> tuple[str | None, int]:
    """(why RDKit refuses the SMILES, or None; its heavy-atom count)."""
    with rdkit_log() as log:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return (
            f"RDKit cannot parse the SMILES {smiles!r}: {summarise_log(log) or 'a syntax error'}",
            0,
        )
    problems = chemistry_problems(mol)
    if problems:
        reasons = "; ".join(message for message, _ in problems)
        return f"the SMILES {smiles!r} is not a valid molecule: {reasons}", 0
    return None, mol.GetNumHeavyAtoms()


def check_ligand(
    kind: str,
    value: str,
    name: str,
    errors: ErrorList,
    *,
    where: str,
    max_heavy_atoms: int | None,
    **place: Any,
) -> Ligand | None:
    """A ligand token's value checked (SMILES by RDKit, a CCD code by its form);
    problems go to ``errors`` prefixed with ``where``."""
    if not value:
        errors.add(f"{where}: {kind}= has no value", **place)
        return None
    if kind == "ccd":
        if not _CCD_CODE.fullmatch(value):
            errors.add(
                f"{where}: {value!r} is not a CCD code (1 to 5 letters or digits, e.g. SAH)",
                **place,
            )
            return None
        return Ligand("ccd", value.upper(), name)
    problem, heavy_atoms = check_smiles(value)
    if problem is not None:
        errors.add(f"{where}: {problem}", **place)
        return None
    if max_heavy_atoms is not None and heavy_atoms > max_heavy_atoms:
        errors.add(
            f"{where}: the molecule has {heavy_atoms} heavy atoms; the limit is {max_heavy_atoms}",
            **place,
        )
        return None
    return Ligand("smiles", value, name)


def check_chains(
    token: str, column: int, errors: ErrorList, *, where: str, **place: Any
) -> tuple[str, ...]:
    """The ':'-separated protein chains of a token starting at ``column``."""
    chains: list[str] = []
    start = column
    for part in token.split(":"):
        if not part:
            errors.add(
                f"{where}, character {start}: an empty chain (a ':' at an end or two in a row)",
                column=start,
                **place,
            )
        bad = next(((i, c) for i, c in enumerate(part) if c.upper() not in PROTEIN_ALPHABET), None)
        if bad is not None:
            offset, char = bad
            errors.add(
                f"{where}, character {start + offset}: {char!r} (residue {offset + 1} of "
                f"chain {len(chains) + 1}) is not allowed; {PROTEIN_LETTERS}",
                column=start + offset,
                character=char,
                **place,
            )
        chains.append(part.upper())
        start += len(part) + 1
    return tuple(chains)


def parse_batch_lines(
    text: str,
    *,
    tool_name: str,
    index: int | None,
    slot: str | None,
    ligands_allowed: bool,
    limits: Mapping[str, Any],
) -> list[BatchLine]:
    """A batch input, one job per line (the syntax is in the module docstring).
    Every fault is reported together, each naming its line and character."""
    errors = ErrorList(index=index, slot=slot)
    syntax = "[NAME] CHAIN[:CHAIN...]" + (" [smiles=SMILES] [ccd=CODE]" if ligands_allowed else "")
    items: list[BatchLine] = []
    for number, line, _ in entry_lines(text):
        where = f"line {number}"
        bare: list[re.Match[str]] = []
        ligands: list[Ligand] = []
        for token in re.finditer(r"\S+", line):
            key, equals, value = token.group().partition("=")
            column = token.start() + 1
            if not equals:
                bare.append(token)
            elif key.lower() in LIGAND_KEYS and ligands_allowed:
                ligand = check_ligand(
                    key.lower(),
                    value,
                    f"ligand {len(ligands) + 1}",
                    errors,
                    where=f"{where}, character {column + len(key) + 1}",
                    max_heavy_atoms=limits.get("max_ligand_heavy_atoms"),
                    line=number,
                    column=column + len(key) + 1,
                )
                if ligand is not None:
                    ligands.append(ligand)
            elif key.lower() in LIGAND_KEYS:
                errors.add(
                    f"{where}, character {column}: {tool_name} predicts proteins only; "
                    f"{key}= ligands are not accepted",
                    line=number,
                    column=column,
                )
            else:
                errors.add(
                    f"{where}, character {column}: unknown field {token.group()!r}; write {syntax}",
                    line=number,
                    column=column,
                )
        if not bare or len(bare) > 2:
            found = "no protein chains" if not bare else f"{len(bare)} fields"
            errors.add(
                f"{where}: expected {syntax}, found {found} (separate chains with ':', not spaces)",
                line=number,
            )
            continue
        name = bare[0].group() if len(bare) == 2 else None
        chains = check_chains(
            bare[-1].group(), bare[-1].start() + 1, errors, where=where, line=number
        )
        _check_size(errors, where, number, chains, ligands, limits)
        items.append(BatchLine(number, name, chains, tuple(ligands)))
    if not items and not errors:
        errors.add("the batch input has no lines to predict (it is empty or only comments)")
    maximum = limits.get("max_batch_items")
    if maximum is not None and len(items) > maximum:
        errors.add(f"the batch input has {len(items)} lines to predict; the limit is {maximum}")
    errors.raise_if_any()
    return items


def _check_size(
    errors: ErrorList,
    where: str,
    line: int | None,
    chains: Sequence[str],
    ligands: Sequence[Ligand],
    limits: Mapping[str, Any],
) -> None:
    """The tool's limits on chains, residues and ligands of one complex."""
    max_chains = limits.get("max_chains")
    if max_chains is not None and len(chains) > max_chains:
        errors.add(f"{where}: {len(chains)} chains; the limit is {max_chains}", line=line)
    residues = sum(len(c) for c in chains)
    max_residues = limits.get("max_residues")
    if max_residues is not None and residues > max_residues:
        errors.add(
            f"{where}: {residues:,} residues in all chains; the limit is {max_residues:,}",
            line=line,
        )
    max_ligands = limits.get("max_ligands")
    if max_ligands is not None and len(ligands) > max_ligands:
        errors.add(f"{where}: {len(ligands)} ligands; the limit is {max_ligands}", line=line)


def check_complex_size(
    chains: Sequence[str],
    ligands: Sequence[Ligand],
    limits: Mapping[str, Any],
    *,
    index: int | None,
    slot: str | None,
) -> None:
    """Raise a ValidationError when one job's complex is over the tool's limits."""
    errors = ErrorList(index=index, slot=slot)
    _check_size(errors, "the complex", None, chains, ligands, limits)
    errors.raise_if_any()


def residue_blocks(residues: int, size: int = 10) -> int:
    """Started blocks of ``size`` residues: the unit the prediction tools charge by."""
    return -(-residues // size)
