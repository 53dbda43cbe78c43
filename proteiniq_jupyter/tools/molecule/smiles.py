"""SMILES to 3D SDF: SMILES lines as people write them, RDKit's embedding and
force-field optimisation, and the tool."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pydantic
from rdkit import Chem
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers

from ...jobs.model import JobInput, JsonDict, ToolResult
from ..base import InputSlot, OutputField, RunContext, Tool
from ..parsing import (
    ErrorList,
    check_size,
    entry_lines,
    file_stem,
    only_item,
    settings_as,
    summary_fields,
)
from .chemistry import MOLECULE_OUTPUTS, chemistry_problems, molecule_row, rdkit_log, summarise_log

#: Where RDKit says a SMILES went wrong.
_POSITION = re.compile(r"around position (\d+)")


@dataclass(frozen=True)
class SmilesEntry:
    """One molecule of the input: where it is, what it is called, and the molecule."""

    number: int
    line: int
    column: int
    smiles: str
    name: str
    mol: Chem.Mol


def parse_smiles_lines(
    text: str,
    *,
    index: int | None = None,
    slot: str | None = None,
    max_molecules: int | None = None,
    max_heavy_atoms: int | None = None,
) -> list[SmilesEntry]:
    """One SMILES per line, optionally followed by whitespace and a name. Blank lines
    and lines starting with '#' are skipped."""
    errors = ErrorList(index=index, slot=slot)
    entries: list[SmilesEntry] = []
    number = 0
    for line_number, line, stripped in entry_lines(text):
        number += 1
        smiles, *rest = stripped.split(maxsplit=1)
        name = rest[0].strip() if rest else f"molecule {number}"
        column = len(line) - len(line.lstrip()) + 1
        place = f"molecule {number} ({name!r}), line {line_number}"
        with rdkit_log() as log:
            mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None:
            reason = summarise_log(log) or "a syntax error"
            found = next((m for m in map(_POSITION.search, log) if m), None)
            where = place
            character = column
            if found is not None:
                character = column + int(found.group(1)) - 1
                where = f"{place}, character {character}"
            errors.add(
                f"{where}: RDKit cannot parse the SMILES {smiles!r}: {reason}",
                molecule=number,
                name=name,
                line=line_number,
                column=character,
            )
            continue
        problems = chemistry_problems(mol)
        if problems:
            reasons = "; ".join(message for message, _ in problems)
            errors.add(
                f"{place}, character {column}: the SMILES {smiles!r} is not a valid "
                f"molecule: {reasons}",
                molecule=number,
                name=name,
                line=line_number,
                column=column,
            )
            continue
        Chem.SanitizeMol(mol)
        if max_heavy_atoms is not None and mol.GetNumHeavyAtoms() > max_heavy_atoms:
            errors.add(
                f"{place}: the molecule has {mol.GetNumHeavyAtoms()} heavy atoms; "
                f"the limit is {max_heavy_atoms}",
                molecule=number,
                name=name,
                line=line_number,
            )
            continue
        entries.append(SmilesEntry(number, line_number, column, smiles, name, mol))
    if number == 0:
        errors.add("the input has no SMILES (it is empty or only comments)")
    elif max_molecules is not None and number > max_molecules:
        errors.add(f"the input has {number} molecules; the limit is {max_molecules}")
    errors.raise_if_any()
    return entries


class SmilesToSdfSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    random_seed: int = pydantic.Field(
        42,
        ge=0,
        le=2**31 - 1,
        description="seed of the ETKDG embedding; the same seed gives the same coordinates",
    )
    force_field: Literal["MMFF94", "MMFF94s", "UFF", "none"] = pydantic.Field(
        "MMFF94",
        description="geometry optimisation after embedding; UFF is used where MMFF "
        "has no parameters for a molecule",
    )
    max_iterations: int = pydantic.Field(
        2000, ge=0, le=100_000, description="optimisation steps at most"
    )


def embed_molecule(mol: Chem.Mol, options: SmilesToSdfSettings) -> tuple[Chem.Mol, JsonDict]:
    """Add hydrogens, embed in 3D with ETKDG v3 and optimise; return the molecule and
    what was done to it."""
    with_h = Chem.AddHs(mol)
    # Typed loosely: RDKit's type hints give the parameter attributes the wrong type.
    params: Any = rdDistGeom.ETKDGv3()
    params.randomSeed = options.random_seed
    with rdkit_log():
        status = rdDistGeom.EmbedMolecule(with_h, params)
        if status != 0:
            # Random starting coordinates succeed for cages and strained rings where
            # the distance-geometry start does not.
            params.useRandomCoords = True
            status = rdDistGeom.EmbedMolecule(with_h, params)
    if status != 0:
        raise RuntimeError("RDKit could not generate 3D coordinates (ETKDG embedding failed)")
    used: str = "none"
    converged: bool | None = None
    energy: float | None = None
    if options.force_field != "none" and options.max_iterations > 0:
        used, converged, energy = _optimise(with_h, options)
    return with_h, {"force_field": used, "converged": converged, "energy": energy}


def _optimise(mol: Chem.Mol, options: SmilesToSdfSettings) -> tuple[str, bool | None, float | None]:
    """Minimise with the chosen force field, or UFF where MMFF lacks parameters (boron,
    most metals); neither having parameters leaves the embedded geometry as it is."""
    if options.force_field.startswith("MMFF") and rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
        properties = rdForceFieldHelpers.MMFFGetMoleculeProperties(
            mol, mmffVariant=options.force_field
        )
        field = rdForceFieldHelpers.MMFFGetMoleculeForceField(mol, properties)
        used = options.force_field
    elif rdForceFieldHelpers.UFFHasAllMoleculeParams(mol):
        field = rdForceFieldHelpers.UFFGetMoleculeForceField(mol)
        used = "UFF"
    else:
        return "none", None, None
    field.Initialize()
    result = field.Minimize(maxIts=options.max_iterations)
    return used, result == 0, round(float(field.CalcEnergy()), 3)


class SmilesToSdf(Tool):
    """Turn SMILES into 3D structures for docking and modelling."""

    id = "smiles-to-sdf"
    libraries = ("rdkit",)
    name = "SMILES to 3D SDF"
    description = (
        "Build 3D structures from SMILES with RDKit: add hydrogens, embed with ETKDG v3 "
        "(seeded, so repeatable) and optimise with MMFF94. All molecules go into one SDF."
    )
    category = "molecule"
    subcategory = "conversion"
    tags = ("molecule", "smiles", "sdf", "3d", "conformer", "rdkit")
    time_limit_s = 300.0
    slots = (
        InputSlot(
            id="molecules",
            kind="molecule",
            formats=("smiles", "smi", "text"),
            label="SMILES",
            description="One SMILES per line, optionally followed by a space and a name.",
        ),
    )
    outputs = (
        *MOLECULE_OUTPUTS,
        OutputField("force_field", "force field used for optimisation"),
        OutputField("converged", "the optimisation converged (empty when not optimised)"),
        OutputField("energy", "force-field energy after optimisation", "kcal/mol"),
    )
    settings_model = SmilesToSdfSettings
    limits: ClassVar[JsonDict] = {
        "max_file_bytes": 200_000,
        "max_molecules": 50,
        "max_heavy_atoms": 150,
    }

    def _entries(self, inputs: Sequence[JobInput]) -> tuple[JobInput, list[SmilesEntry]]:
        index, item = only_item(inputs, "molecules")
        check_size(item, index, self.limits["max_file_bytes"])
        entries = parse_smiles_lines(
            item.content,
            index=index,
            slot="molecules",
            max_molecules=self.limits["max_molecules"],
            max_heavy_atoms=self.limits["max_heavy_atoms"],
        )
        return item, entries

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._entries(inputs)

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        options = settings_as(settings, SmilesToSdfSettings)
        item, entries = self._entries(inputs)
        buffer = io.StringIO()
        writer = Chem.SDWriter(buffer)
        rows: list[JsonDict] = []
        for done, entry in enumerate(entries, start=1):
            try:
                mol3d, info = embed_molecule(entry.mol, options)
            except RuntimeError as exc:
                raise RuntimeError(
                    f"molecule {entry.number} ({entry.name!r}), line {entry.line}: {exc}"
                ) from None
            smiles = Chem.MolToSmiles(entry.mol)
            mol3d.SetProp("_Name", entry.name)
            mol3d.SetProp("SMILES", smiles)
            mol3d.SetProp("force_field", str(info["force_field"]))
            if info["energy"] is not None:
                mol3d.SetDoubleProp("energy", float(info["energy"]))
            writer.write(mol3d)
            rows.append(
                {
                    "index": entry.number,
                    "name": entry.name,
                    "smiles": smiles,
                    **molecule_row(entry.mol),
                    **info,
                }
            )
            context.progress(done / len(entries), f"molecule {done} of {len(entries)}")
        writer.close()
        out = context.write_file(f"{file_stem(item, 'molecules')}.sdf", buffer.getvalue(), "sdf")
        return ToolResult(
            fields=summary_fields({"molecules": len(rows)}, rows), rows=rows, files=[out]
        )
