"""Every free tool as a user runs it: through the service, on real inputs, on both
stores, free of charge, with its files in the job's folder and its results exported."""

from __future__ import annotations

import csv
import io

import gemmi
import pytest
from rdkit import Chem

from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import JobInput
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles
from proteiniq_jupyter.tools.registry import ToolRegistry

REGISTRY = ToolRegistry.from_entry_points()


@pytest.fixture
def real(store, tmp_path):
    service = JobService(store, REGISTRY, DirectoryJobFiles(tmp_path / "files"))
    return service, service.sign_in("alice", email="alice@lab.example")


def run(service, actor, tool, slot, fmt, content, settings=None):
    item = JobInput(id=f"{slot}_1", slot_id=slot, kind="x", format=fmt, content=content)
    quote = service.quote(actor, tool, [item], settings)
    assert quote.estimated_credits == 0 and quote.blocking_errors == ()
    job = service.submit(actor, tool, [item], settings)
    run_job(service.runs, REGISTRY, job.id)
    done = service.get(actor, job.id).job
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.credits_charged == 0
    folder = service.files.job_dir(job.id)
    for f in done.result.files:
        assert (folder / f.name).stat().st_size == f.size
    return done, folder


def test_protein_stats(real, fixtures_dir):
    service, alice = real
    fasta = (fixtures_dir / "colabfold" / "P54025.fasta").read_text()
    job, _ = run(service, alice, "protein-stats", "sequences", "fasta", fasta)
    rows = list(csv.DictReader(io.StringIO(service.export(alice, job.id, "csv"))))
    sequence = "".join(line.strip() for line in fasta.splitlines()[1:])
    assert len(rows) == 1 and int(rows[0]["length"]) == len(sequence)
    assert float(rows[0]["molecular_weight"]) > 100 * len(sequence)


def test_structure_round_trip(real, fixtures_dir):
    service, alice = real
    pdb = (fixtures_dir / "colabfold" / "ERR550519_2213899_unrelaxed_model_1.pdb").read_text()
    to_cif, folder = run(service, alice, "pdb-to-mmcif", "structure", "pdb", pdb)
    [cif_file] = [f for f in to_cif.result.files if f.format in ("mmcif", "cif")]
    cif_text = (folder / cif_file.name).read_text()
    back, folder = run(service, alice, "mmcif-to-pdb", "structure", "mmcif", cif_text)
    [pdb_file] = [f for f in back.result.files if f.format == "pdb"]
    original = gemmi.read_pdb_string(pdb)
    again = gemmi.read_structure(str(folder / pdb_file.name))
    assert again[0].count_atom_sites() == original[0].count_atom_sites() == 1069
    seq, _ = run(service, alice, "structure-to-sequence", "structure", "pdb", pdb)
    [chain] = seq.result.rows
    assert (chain["chain"], chain["length"]) == ("A", 130)
    assert chain["sequence"] == gemmi.one_letter_code([r.name for r in original[0]["A"]]).upper()


def test_molecules_round_trip(real):
    service, alice = real
    smiles = "CC(=O)Oc1ccccc1C(=O)O aspirin\nCN1C=NC2=C1C(=O)N(C(=O)N2C)C caffeine"
    sdf_job, folder = run(service, alice, "smiles-to-sdf", "molecules", "smiles", smiles)
    [sdf_file] = sdf_job.result.files
    sdf = (folder / sdf_file.name).read_text()
    mols = [m for m in Chem.SDMolSupplier(str(folder / sdf_file.name), removeHs=False)]
    assert [m.GetProp("_Name") for m in mols] == ["aspirin", "caffeine"]
    back, _ = run(service, alice, "sdf-to-smiles", "molecules", "sdf", sdf)
    canonical = [Chem.CanonSmiles(s.split()[0]) for s in smiles.splitlines()]
    assert [Chem.CanonSmiles(r["smiles"]) for r in back.result.rows] == canonical


def test_residue_codes(real):
    service, alice = real
    job, _ = run(
        service, alice, "residue-codes", "sequences", "text", "MKT", {"direction": "one_to_three"}
    )
    assert job.result.rows == [
        {"index": 1, "name": "sequence 1", "length": 3, "converted": "Met-Lys-Thr"}
    ]


@pytest.mark.parametrize(
    ("tool", "slot", "fmt", "content", "expected"),
    [
        ("protein-stats", "sequences", "fasta", ">p1\nMKTAJY\n", "line 2, character 5"),
        ("protein-stats", "sequences", "fasta", ">p1\nMK*TA\n", "'*'"),
        ("protein-stats", "sequences", "fasta", ">p1\nMKXTA\n", "'X'"),
        ("smiles-to-sdf", "molecules", "smiles", "CCO ethanol\nC1CC(C bad\n", "bad"),
        ("pdb-to-mmcif", "structure", "pdb", "ATOM      1  N   MET A   1      11.1", "line 1"),
    ],
)
def test_bad_input_costs_nothing_and_creates_nothing(real, tool, slot, fmt, content, expected):
    service, alice = real
    item = JobInput(id=f"{slot}_1", slot_id=slot, kind="x", format=fmt, content=content)
    with pytest.raises(ValidationError) as info:
        service.submit(alice, tool, [item])
    assert expected in info.value.message
    assert service.list_jobs(alice).items == []
    assert service.account(alice).available_credits == 500
