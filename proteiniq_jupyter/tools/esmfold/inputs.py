"""The sequence a job folds, read and checked, with each problem placed at its line
and column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...jobs.errors import ValidationError
from ..parsing import split_lines
from ..sequence import STANDARD_AMINO_ACIDS
from .folding import CHAIN_SEPARATOR

#: The 20 standard amino acids and X (unknown), which the model embeds as such.
ALPHABET = STANDARD_AMINO_ACIDS + "X"
ALLOWED = (
    "ESMFold takes the 20 standard amino-acid letters and X (unknown); "
    "':' separates the chains of a complex"
)


@dataclass(frozen=True)
class FoldInput:
    name: str
    chains: tuple[str, ...]

    @property
    def sequence(self) -> str:
        return CHAIN_SEPARATOR.join(self.chains)

    @property
    def residues(self) -> int:
        return sum(len(chain) for chain in self.chains)


def _residue_places(text: str) -> dict[tuple[int, int], tuple[int, int, bool]]:
    """(line, character) of each sequence character -> (chain, residue in that chain,
    whether its record has several chains), counted as ``parse_fasta`` reads them."""
    places: dict[tuple[int, int], tuple[int, int, bool]] = {}
    record: list[tuple[int, int, int, int]] = []

    def close() -> None:
        several = any(chain > 1 for *_, chain, _ in record)
        for line, column, chain, residue in record:
            places[(line, column)] = (chain, residue, several)
        record.clear()

    chain, residue = 1, 0
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith(">"):
            close()
            chain, residue = 1, 0
            continue
        for column, char in enumerate(line, start=1):
            if char.isspace():
                continue
            if char == CHAIN_SEPARATOR:
                chain, residue = chain + 1, 0
                continue
            residue += 1
            record.append((number, column, chain, residue))
    close()
    return places


def name_positions(exc: ValidationError, text: str) -> ValidationError:
    """``parse_fasta``'s errors with the residue number of each bad character added, so
    'line 3, character 17' also reads as the residue a user sees in a viewer."""
    places = _residue_places(text)
    errors: list[dict[str, Any]] = []
    for error in exc.errors:
        error = dict(error)
        place = places.get((error.get("line", 0), error.get("column", 0)))
        if place is not None:
            chain, residue, several = place
            where = f"chain {chain}, residue {residue}" if several else f"residue {residue}"
            old = f"line {error['line']}, character {error['column']}:"
            error["message"] = error["message"].replace(
                old, f"line {error['line']}, character {error['column']} ({where}):", 1
            )
            error["residue"] = residue
            if several:
                error["chain"] = chain
        errors.append(error)
    return ValidationError("; ".join(e["message"] for e in errors), errors=errors)
