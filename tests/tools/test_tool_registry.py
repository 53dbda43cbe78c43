"""The seven free tools are found through their entry points, describe themselves
as JSON, cost nothing, and name every result field they produce."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proteiniq_jupyter import api
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.tools.base import RunContext, Tool
from proteiniq_jupyter.tools.molecule import SdfToSmiles, SmilesToSdf
from proteiniq_jupyter.tools.registry import ToolRegistry
from proteiniq_jupyter.tools.sequence import ProteinStats, ResidueCodes
from proteiniq_jupyter.tools.structure import MmcifToPdb, PdbToMmcif, StructureToSequence

FREE_TOOLS: dict[str, type[Tool]] = {
    "protein-stats": ProteinStats,
    "residue-codes": ResidueCodes,
    "pdb-to-mmcif": PdbToMmcif,
    "mmcif-to-pdb": MmcifToPdb,
    "structure-to-sequence": StructureToSequence,
    "smiles-to-sdf": SmilesToSdf,
    "sdf-to-smiles": SdfToSmiles,
}

TRIPEPTIDE_PDB = "".join(
    f"ATOM  {n:5d}  CA  {name} A{n:4d}    {1.5 * n:8.3f}{0.0:8.3f}{0.0:8.3f}  1.00 10.00"
    "           C\n"
    for n, name in enumerate(("MET", "LYS", "THR"), start=1)
)
TRIPEPTIDE_CIF = """data_tri
loop_
_atom_site.group_PDB
_atom_site.id
_atom_site.type_symbol
_atom_site.label_atom_id
_atom_site.label_alt_id
_atom_site.label_comp_id
_atom_site.label_asym_id
_atom_site.label_seq_id
_atom_site.Cartn_x
_atom_site.Cartn_y
_atom_site.Cartn_z
_atom_site.auth_seq_id
_atom_site.auth_asym_id
ATOM 1 C CA . MET A 1 1.5 0 0 1 A
ATOM 2 C CA . LYS A 2 3.0 0 0 2 A
ATOM 3 C CA . THR A 3 4.5 0 0 3 A
"""
ETHANOL_SDF = """ethanol
     RDKit          2D

  3  2  0  0  0  0  0  0  0  0999 V2000
    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    1.2990    0.7500    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    2.5981   -0.0000    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  2  3  1  0
M  END
$$$$
"""

SMALL_INPUTS: dict[str, tuple[str, str, str, str]] = {
    "protein-stats": ("sequences", "protein", "fasta", ">a\nMKT\n>b\nMKV\n"),
    "residue-codes": ("sequences", "protein", "fasta", ">a\nMKT\n>b\nMKV\n"),
    "pdb-to-mmcif": ("structure", "structure", "pdb", TRIPEPTIDE_PDB),
    "mmcif-to-pdb": ("structure", "structure", "mmcif", TRIPEPTIDE_CIF),
    "structure-to-sequence": ("structure", "structure", "pdb", TRIPEPTIDE_PDB),
    "smiles-to-sdf": ("molecules", "molecule", "smiles", "CCO ethanol\n"),
    "sdf-to-smiles": ("molecules", "molecule", "sdf", ETHANOL_SDF),
}


def test_the_registry_finds_all_seven_free_tools() -> None:
    registry = ToolRegistry.from_entry_points()
    for tool_id, tool_class in FREE_TOOLS.items():
        assert tool_id in registry
        tool = registry.get(tool_id)
        assert type(tool) is tool_class
        assert tool.id == tool_id


@pytest.mark.parametrize("tool_id", sorted(FREE_TOOLS))
def test_detail_is_json_and_the_tool_is_free(tool_id: str, make_input: Any) -> None:
    tool = ToolRegistry.from_entry_points().get(tool_id)
    detail = json.loads(json.dumps(api.ToolDetail.of(tool).model_dump()))
    assert detail["id"] == tool_id
    assert detail["credit_model"] == {"is_free": True, "description": "free", "rates": {}}
    assert detail["processing"]["gpu"] is False
    assert detail["input"]["slots"] and all(s["formats"] for s in detail["input"]["slots"])
    assert detail["output"]["fields"]
    assert detail["limits"]
    assert tool.category in ("sequence", "structure", "molecule")
    slot_id, kind, fmt, content = SMALL_INPUTS[tool_id]
    inputs = [make_input(slot_id, kind, fmt, content)]
    settings = tool.parse_settings({})
    assert tool.estimate(inputs, settings).credits == 0


@pytest.mark.parametrize("tool_id", sorted(FREE_TOOLS))
def test_every_result_field_is_declared(tool_id: str, make_input: Any, tmp_path: Path) -> None:
    tool = FREE_TOOLS[tool_id]()
    slot_id, kind, fmt, content = SMALL_INPUTS[tool_id]
    inputs = [make_input(slot_id, kind, fmt, content)]
    settings = tool.parse_settings({})
    tool.validate(inputs, settings)
    messages: list[tuple[float, str | None]] = []
    result = tool.run(inputs, settings, RunContext(tmp_path, lambda f, m: messages.append((f, m))))

    declared = {field.name for field in tool.outputs}
    produced = set(result.fields) | {key for row in result.rows for key in row} - {"index"}
    assert produced <= declared, produced - declared
    assert result.fields
    assert messages and messages[-1][0] == 1.0
    for file in result.files:
        assert (tmp_path / file.name).stat().st_size == file.size > 0
    json.dumps(api.ToolResult.of(result).model_dump())


@pytest.mark.parametrize("tool_id", sorted(FREE_TOOLS))
def test_unknown_settings_are_refused(tool_id: str) -> None:
    tool = FREE_TOOLS[tool_id]()
    with pytest.raises(ValidationError) as caught:
        tool.parse_settings({"no_such_setting": 1})
    assert caught.value.errors[0]["field"] == "settings.no_such_setting"


def test_a_wrong_slot_or_format_is_refused_before_parsing(make_input: Any) -> None:
    tool = ProteinStats()
    with pytest.raises(ValidationError, match="format 'pdb' is not accepted"):
        tool.validate([make_input("sequences", "protein", "pdb", "MKT")], tool.parse_settings({}))
    with pytest.raises(ValidationError, match=r"has no slot 'structure'.* Its slots: sequences"):
        tool.validate([make_input("structure", "protein", "fasta", "MKT")], tool.parse_settings({}))
