"""The checks at submit give a receptor the same answer wherever they run: the
residue names they rely on (meeko's templates, the parents of modified residues)
are the package's own table, not read from meeko or PDBFixer, which the submitting
machine may not have."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from proteiniq_jupyter.jobs.errors import ValidationError
from tests.tools.test_vina_structures import TOOL, atom_record, job_inputs, receptor_text, small_box


def renamed(text: str, number: int, name: str) -> str:
    """Chain A's residue ``number`` renamed ``name`` (a HETATM in the chain, as
    the PDB writes modified residues)."""
    return (
        "\n".join(
            f"HETATM{line[6:17]}{name:>3}{line[20:]}"
            if atom_record(line) and line[21] == "A" and int(line[22:26]) == number
            else line
            for line in text.splitlines()
        )
        + "\n"
    )


#: (entry, change, settings): receptors whose answer rests on the residue tables.
TABLE_CASES = [
    ("1BHL", "as-is", {}),  # CAS: replaced by CYS (PDBFixer's table)
    ("1BHL", "as-is", {"remove_heteroatoms": False}),  # waters: meeko has HOH
    ("1IA1", "as-is", {"remove_heteroatoms": False}),  # NDP: no meeko template
    ("1S3V", "K32:M3L", {}),  # trimethyllysine: LYS by gemmi's table
    ("1S3V", "K32:SEP", {}),  # phosphoserine: meeko's template
    ("1S3V", "K32:XYZ", {}),  # unknown: refused
]

SUBMIT_ANSWERS = """
import json, sys
from pathlib import Path
for name in sys.argv[2:]:
    sys.modules[name] = None  # as where the docking extra is not installed
from tests.tools.test_vina_residue_names import TABLE_CASES, submit_answer
print(json.dumps([submit_answer(Path(sys.argv[1]), *case) for case in TABLE_CASES]))
"""


def submit_answer(fixtures: Path, entry: str, change: str, extra: dict[str, object]) -> str:
    text = receptor_text(fixtures, entry, "as-is")
    if change != "as-is":
        residue, name = change.split(":")
        text = renamed(text, int(residue[1:]), name)
    try:
        TOOL.validate(job_inputs(text), TOOL.parse_settings({**small_box(entry), **extra}))
    except ValidationError as exc:
        return exc.message
    return "accepted"


def test_the_answer_at_submit_does_not_depend_on_the_docking_libraries(
    shared_fixtures: Path,
) -> None:
    """The checks at submit read the package's own residue table: a process where
    meeko, PDBFixer, OpenMM and Vina cannot be imported answers every receptor as
    this one does."""
    here = [submit_answer(shared_fixtures, *case) for case in TABLE_CASES]
    assert here[:2] == ["accepted", "accepted"]
    assert "residue A:193 (NDP)" in here[2] and "meeko has no template" in here[2]
    assert here[3:5] == ["accepted", "accepted"]
    assert "residue A:32 (XYZ)" in here[5] and "neither meeko nor PDBFixer knows it" in here[5]
    root = Path(__file__).resolve().parents[2]
    blocked = ["meeko", "pdbfixer", "openmm", "vina"]
    run = subprocess.run(
        [sys.executable, "-c", SUBMIT_ANSWERS, str(shared_fixtures), *blocked],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == here


def test_the_residue_table_agrees_with_the_installed_libraries() -> None:
    """The package's residue table is what meeko and PDBFixer say (checked here,
    where the docking extra is installed), plus gemmi's parents of modified residues."""
    import importlib.util

    from pdbfixer.pdbfixer import substitutions

    from proteiniq_jupyter.tools.vina.residue_table import (
        MEEKO_TEMPLATES,
        MODIFIED_PARENTS,
        modified_parent,
    )

    spec = importlib.util.find_spec("meeko")
    assert spec is not None and spec.submodule_search_locations
    data_file = Path(next(iter(spec.submodule_search_locations))) / "data"
    data = json.loads((data_file / "residue_chem_templates.json").read_text())
    names = set(data["residue_templates"]) | set(data["ambiguous"])
    assert {name for name in names if "_" not in name and "-" not in name} == MEEKO_TEMPLATES
    assert dict(substitutions) == MODIFIED_PARENTS
    assert modified_parent("M3L") == modified_parent("MLY") == "LYS"  # gemmi's
    assert modified_parent("SEC") is None and modified_parent("NDP") is None
