"""A Boltz-2 job's complex, its ligands input, and the YAML input Boltz reads."""

from __future__ import annotations

import json
import string
from dataclasses import dataclass

from ..parsing import (
    ErrorList,
    entry_lines,
)
from ..prediction import (
    LIGAND_KEYS,
    Ligand,
    check_ligand,
)


@dataclass(frozen=True)
class BoltzComplex:
    """One job's complex: protein chains (record name, sequence) and ligands."""

    stem: str
    chains: tuple[tuple[str, str], ...]
    ligands: tuple[Ligand, ...]

    @property
    def residues(self) -> int:
        return sum(len(seq) for _, seq in self.chains)

    def chain_ids(self) -> tuple[list[str], list[str]]:
        """Boltz chain ids: A, B, ... for the proteins, then on for the ligands."""
        letters = string.ascii_uppercase
        n = len(self.chains)
        return list(letters[:n]), list(letters[n : n + len(self.ligands)])


def parse_ligand_lines(
    text: str, *, index: int | None, slot: str | None, max_ligands: int, max_heavy_atoms: int
) -> list[Ligand]:
    """The ligands input: one per line, ``SMILES [name]``, ``smiles=SMILES [name]`` or
    ``ccd=CODE [name]``; blank lines and '#' comments are skipped."""
    errors = ErrorList(index=index, slot=slot)
    ligands: list[Ligand] = []
    count = 0
    for line_number, line, stripped in entry_lines(text):
        count += 1
        first, *rest = stripped.split(maxsplit=1)
        column = len(line) - len(line.lstrip()) + 1
        key, equals, value = first.partition("=")
        if equals and key.lower() in LIGAND_KEYS:
            kind = key.lower()
            column += len(key) + 1
        else:
            kind, value = "smiles", first
        name = rest[0].strip() if rest else f"ligand {count}"
        ligand = check_ligand(
            kind,
            value,
            name,
            errors,
            where=f"ligand {count} ({name!r}), line {line_number}, character {column}",
            max_heavy_atoms=max_heavy_atoms,
            line=line_number,
            column=column,
        )
        if ligand is not None:
            ligands.append(ligand)
    if count == 0:
        errors.add("the ligands input has no ligand (it is empty or only comments)")
    elif count > max_ligands:
        errors.add(f"the input has {count} ligands; the limit is {max_ligands}")
    errors.raise_if_any()
    return ligands


def boltz_yaml(job: BoltzComplex, *, msa_empty: bool, affinity_binder: str | None) -> str:
    """Boltz's YAML input. Every value is a JSON-quoted string (JSON strings are YAML
    double-quoted scalars), so no YAML library is needed and no value is misread."""
    protein_ids, ligand_ids = job.chain_ids()
    q = json.dumps
    lines = ["version: 1", "sequences:"]
    for chain_id, (_, sequence) in zip(protein_ids, job.chains, strict=True):
        lines += ["  - protein:", f"      id: {q(chain_id)}", f"      sequence: {q(sequence)}"]
        if msa_empty:
            lines.append(f"      msa: {q('empty')}")
    for chain_id, ligand in zip(ligand_ids, job.ligands, strict=True):
        lines += [
            "  - ligand:",
            f"      id: {q(chain_id)}",
            f"      {ligand.kind}: {q(ligand.value)}",
        ]
    if affinity_binder is not None:
        lines += ["properties:", "  - affinity:", f"      binder: {q(affinity_binder)}"]
    return "\n".join(lines) + "\n"
