"""Receptors as they come: real structures (the BACE-1 receptor protonated by reduce,
DHFR written by OpenMM, HIV-1 integrase as the PDB has it, with waters and
modified cysteines, and a DHFR dimer with its cofactors, whose crystal contacts
meeko reads as bonds) and variants this file makes of them, as tutorials and
processing pipelines hand them out: hydrogen records apart from their residues,
lines reordered, alternate locations, CRLF line ends, hydrogens stripped, side-chain
atoms removed, element columns blanked, insertion codes, several models, mmCIF.

Every variant passes the checks at submit; a representative set is docked through
``piq run autodock-vina --wait`` at exhaustiveness 1 in a small box. What cannot be
prepared is refused at submit with the residue and its line, with no job and no
charge. Crystal contacts made too close on purpose show both sides of the rule that
nothing passing submit fails in preparation: a side chain read as bonded to its
neighbour is rebuilt, backbone atoms as close are refused at submit, and a residue
meeko still cannot match is left out and reported.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gemmi
import pytest

from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import JobInput
from proteiniq_jupyter.store.database import sqlite_url
from proteiniq_jupyter.tools.vina import AutodockVina, ReceptorOptions, prepare_receptor
from proteiniq_jupyter.tools.vina.preparation import prepare_receptor_reported
from tests.test_cli import environment, files_table, process_invoker

Piq = Callable[..., subprocess.CompletedProcess[str]]

TOOL = AutodockVina()
Variant = Callable[[str], str]


@dataclass(frozen=True)
class Entry:
    name: str
    path: str
    site: tuple[float, float, float]  # a point in a pocket of the receptor


ENTRIES = {
    "BACE-1": Entry("BACE-1", "docking/BACE_1_receptorH.pdb", (28.5, 6.0, 14.4)),
    "1S3V": Entry("1S3V", "docking/1s3v_protein_one_lig_removed.pdb", (-3.1, 27.8, 2.7)),
    "1BHL": Entry("1BHL", "docking/1BHL.pdb", (-6.1, 36.5, 25.3)),
    "1IA1": Entry("1IA1", "docking/1ia1_protein_one_lig_removed.pdb", (10.1, 36.0, 18.4)),
}


def atom_record(line: str) -> bool:
    return line.startswith(("ATOM  ", "HETATM"))


def hydrogen(line: str) -> bool:
    element = line[76:78].strip()
    return element == "H" or (not element and line[12:16].strip().startswith("H"))


def hydrogens_apart(text: str) -> str:
    """Each residue's hydrogen records written after all the heavy atoms."""
    lines = text.splitlines()
    kept = [line for line in lines if not (atom_record(line) and hydrogen(line))]
    moved = [line for line in lines if atom_record(line) and hydrogen(line)]
    end = next(i for i in range(len(kept) - 1, -1, -1) if atom_record(kept[i])) + 1
    return "\n".join(kept[:end] + moved + kept[end:]) + "\n"


def residues_reordered(text: str) -> str:
    """The atom records of the first half of the residues moved after the second."""
    lines = text.splitlines()
    atoms = [i for i, line in enumerate(lines) if atom_record(line) and line[17:20] != "HOH"]
    keys = list(dict.fromkeys(lines[i][21:27] for i in atoms))
    first = set(keys[: len(keys) // 2])
    block = [lines[i] for i in atoms]
    moved = [line for line in block if line[21:27] in first]
    rest = [line for line in block if line[21:27] not in first]
    return "\n".join(lines[: atoms[0]] + rest + moved + lines[atoms[-1] + 1 :]) + "\n"


def altlocs_added(text: str) -> str:
    """Every tenth residue's side chain in two conformers, A and B (B shifted 0.4 Å)."""
    out: list[str] = []
    for line in text.splitlines():
        if (
            atom_record(line)
            and int(line[22:26]) % 10 == 0
            and line[12:16].strip()
            not in (
                "N",
                "CA",
                "C",
                "O",
            )
        ):
            a = f"{line[:16]}A{line[17:54]}  0.60{line[60:]}"
            x = float(line[30:38]) + 0.4
            b = f"{line[:16]}B{line[17:30]}{x:8.3f}{line[38:54]}  0.40{line[60:]}"
            out.extend([a, b])
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def hydrogens_stripped(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not hydrogen(line)) + "\n"


#: Side-chain atoms removed by ``side_chains_cut``; PDBFixer places them again.
CUT_RESIDUES = ("LYS", "ARG", "GLU", "GLN")


def side_chains_cut(text: str) -> str:
    """Every fifth Lys, Arg, Glu and Gln loses its side chain past CG, hydrogens
    included, as in crystal structures whose flexible side chains were not seen."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for line in text.splitlines():
        if atom_record(line) and line[17:20] in CUT_RESIDUES:
            key = line[21:27]
            order = seen.setdefault(key, len(seen))
            name = line[12:16].strip()
            beyond = name not in ("N", "CA", "C", "O", "CB", "CG", "H", "HA", "OXT")
            if order % 5 == 0 and beyond and not name.startswith(("HB", "HG")):
                continue
        out.append(line)
    return "\n".join(out) + "\n"


def elements_blank(text: str) -> str:
    return (
        "\n".join(f"{line[:76]:<76}  " if atom_record(line) else line for line in text.splitlines())
        + "\n"
    )


def insertion_codes(text: str) -> str:
    """Residues 60 to 64 renumbered 59A to 59E, as antibody and PDBbind files have."""
    out: list[str] = []
    for line in text.splitlines():
        if atom_record(line) and 60 <= int(line[22:26]) <= 64:
            code = "ABCDE"[int(line[22:26]) - 60]
            line = f"{line[:22]}{59:4d}{code}{line[27:]}"
        out.append(line)
    return "\n".join(out) + "\n"


def two_models(text: str) -> str:
    """The structure as model 1 and, moved 50 Å, as model 2 (only the first counts)."""
    atoms = [line for line in text.splitlines() if atom_record(line)]
    shifted = [f"{line[:30]}{float(line[30:38]) + 50:8.3f}{line[38:]}" for line in atoms]
    return "\n".join(
        ["MODEL        1", *atoms, "ENDMDL", "MODEL        2", *shifted, "ENDMDL", "END"]
    )


def pdbbind_style(text: str) -> str:
    """A processed complex as PDBbind hands them out: hydrogens present, some side
    chains incomplete, insertion codes."""
    return insertion_codes(side_chains_cut(text))


def as_is(text: str) -> str:
    return text


def moved_toward(text: str, atom: tuple[int, str], target: tuple[int, str], distance: float) -> str:
    """Chain A's ``atom`` (residue number, atom name) moved along the line to
    ``target`` until it is ``distance`` Å from it, as a crystal contact modelled too
    close."""
    lines = text.splitlines()

    def find(number: int, name: str) -> int:
        return next(
            i
            for i, line in enumerate(lines)
            if atom_record(line)
            and line[21] == "A"
            and int(line[22:26]) == number
            and line[12:16].strip() == name
        )

    i, j = find(*atom), find(*target)
    p = [float(lines[i][k : k + 8]) for k in (30, 38, 46)]
    q = [float(lines[j][k : k + 8]) for k in (30, 38, 46)]
    scale = distance / math.dist(p, q)
    x, y, z = (q[k] + (p[k] - q[k]) * scale for k in range(3))
    lines[i] = f"{lines[i][:30]}{x:8.3f}{y:8.3f}{z:8.3f}{lines[i][54:]}"
    return "\n".join(lines) + "\n"


def side_chain_clash(text: str) -> str:
    """1S3V's Arg 36 NH1 1.3 Å from Gly 164's carbonyl O (2.75 Å in the entry):
    meeko would read a bond; the side chain can be placed again."""
    return moved_toward(text, (36, "NH1"), (164, "O"), 1.3)


def backbone_clash(text: str) -> str:
    """1S3V's Asn 5 carbonyl O 1.3 Å from Ile 114's N (an H-bond of 2.78 Å in the
    entry): neither atom can be placed again."""
    return moved_toward(text, (5, "O"), (114, "N"), 1.3)


def carbonyl_adrift(text: str) -> str:
    """1S3V's Ile 60 carbonyl O 2.4 Å from its C: every atom is there, so it passes
    the checks at submit, but meeko matches the residue to none of its templates."""
    return moved_toward(text, (60, "O"), (60, "C"), 2.4)


#: Variants made for one entry (they move named atoms of 1S3V).
CLASHES: dict[str, Variant] = {
    "side-chain-clash": side_chain_clash,
    "carbonyl-adrift": carbonyl_adrift,
    "backbone-clash": backbone_clash,
}

VARIANTS: dict[str, Variant] = {
    "as-is": as_is,
    "hydrogens-apart": hydrogens_apart,
    "residues-reordered": residues_reordered,
    "altlocs": altlocs_added,
    "crlf": crlf,
    "hydrogens-stripped": hydrogens_stripped,
    "side-chains-cut": side_chains_cut,
    "elements-blank": elements_blank,
    "insertion-codes": insertion_codes,
    "two-models": two_models,
    "pdbbind-style": pdbbind_style,
}


def as_mmcif(text: str) -> str:
    structure = gemmi.read_pdb_string(text)
    structure.setup_entities()
    return str(structure.make_mmcif_document().as_string())


def receptor_text(fixtures: Path, entry: str, variant: str) -> str:
    make = VARIANTS.get(variant) or CLASHES[variant]
    return make((fixtures / ENTRIES[entry].path).read_text())


def small_box(entry: str) -> dict[str, float | int]:
    x, y, z = ENTRIES[entry].site
    return {
        "center_x": x,
        "center_y": y,
        "center_z": z,
        "size_x": 16.0,
        "size_y": 16.0,
        "size_z": 16.0,
        "exhaustiveness": 1,
        "num_poses": 2,
    }


def job_inputs(text: str, fmt: str = "pdb") -> list[JobInput]:
    return [
        JobInput(id="r", slot_id="receptor", kind="structure", format=fmt, content=text),
        JobInput(id="l", slot_id="ligands", kind="ligand", format="smiles", content="CCO"),
    ]


# -- the checks at submit, every entry and variant ----------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("entry", sorted(ENTRIES))
@pytest.mark.parametrize("fmt", ["pdb", "mmcif"])
def test_every_variant_passes_the_checks_at_submit(
    shared_fixtures: Path, entry: str, variant: str, fmt: str
) -> None:
    text = receptor_text(shared_fixtures, entry, variant)
    if fmt == "mmcif":
        text = as_mmcif(text)
    TOOL.validate(job_inputs(text, fmt), TOOL.parse_settings(small_box(entry)))


# -- docking through the command line -------------------------------------------------


def cli_on(database_url: str, tmp_path: Path) -> Piq:
    """``piq`` as a user runs it (a process per command), on the database at
    ``database_url``."""
    return process_invoker(environment(database_url, tmp_path))


@pytest.fixture
def piq(tmp_path: Path) -> Piq:
    """On SQLite: the docking corpus checks preparation, not the store."""
    return cli_on(sqlite_url(tmp_path / "piq.sqlite"), tmp_path)


def dock(
    piq: Piq, receptor: Path, ligands: str, entry: str, code: int = 0
) -> subprocess.CompletedProcess[str]:
    """``piq run autodock-vina --wait`` of ``ligands`` into the ``receptor`` file,
    in the box of ``entry``."""
    return piq(
        "run",
        "autodock-vina",
        "-i",
        f"receptor=@{receptor}",
        "-i",
        f"ligands={ligands}",
        *settings_args(entry),
        "--wait",
        code=code,
    )


def settings_args(entry: str, **extra: object) -> list[str]:
    args: list[str] = []
    for key, value in {**small_box(entry), **extra}.items():
        args += ["--set", f"{key}={value}"]
    return args


DOCKED = [
    # (entry, variant, format, what the report must name)
    ("BACE-1", "pdbbind-style", "pdb", "A:59B (ARG): side chain rebuilt"),
    ("1S3V", "side-chains-cut", "pdb", "side chain rebuilt"),
    ("BACE-1", "hydrogens-apart", "pdb", ""),
    ("1S3V", "altlocs", "mmcif", ""),
    ("1S3V", "residues-reordered", "pdb", ""),
    ("1BHL", "as-is", "pdb", "A:65 (CAS): replaced by CYS"),
    ("1BHL", "two-models", "pdb", "waters"),
    # Crystal contacts meeko reads as bonds: those side chains are rebuilt.
    (
        "1IA1",
        "as-is",
        "pdb",
        "A:105 (ASP): side chain rebuilt (CG, OD1, OD2); as submitted, its OD1 is 1.50 Å "
        "from O of A:104 (SER)",
    ),
    (
        "1S3V",
        "side-chain-clash",
        "pdb",
        "A:36 (ARG): side chain rebuilt (CG, CD, NE, CZ, NH1, NH2); as submitted, its NH1 "
        "is 1.30 Å from O of A:164 (GLY)",
    ),
    # What passes submit and meeko still refuses is left out and reported.
    ("1S3V", "carbonyl-adrift", "pdb", "A:60 (ILE): meeko matched it to none of its templates"),
]


@pytest.mark.parametrize(
    ("entry", "variant", "fmt", "named"), DOCKED, ids=[f"{e}-{v}-{f}" for e, v, f, _ in DOCKED]
)
def test_variant_docks_through_the_cli(
    shared_fixtures: Path,
    tmp_path: Path,
    piq: Piq,
    entry: str,
    variant: str,
    fmt: str,
    named: str,
) -> None:
    text = receptor_text(shared_fixtures, entry, variant)
    if variant == "two-models":
        text = crlf(elements_blank(hydrogens_stripped(text)))
    if fmt == "mmcif":
        text = as_mmcif(text)
    path = tmp_path / f"{entry}-{variant}.{'cif' if fmt == 'mmcif' else 'pdb'}"
    path.write_bytes(text.encode())
    result = dock(piq, path, "CCO ethanol", entry)
    job_id = result.stdout.splitlines()[0]
    job = json.loads(piq("show", job_id, "--json").stdout)
    assert job["status"] == "COMPLETED", job.get("error")
    fields = job["result"]["fields"]
    assert fields["poses"] >= 1 and fields["best_affinity"] < 0
    assert named in fields["receptor_repairs"]
    if variant in ("pdbbind-style", "side-chains-cut"):
        assert fields["residues_repaired"] >= 5
    assert job["credits_charged"] == 1
    if variant == "pdbbind-style":  # a docking's files, as piq show lists them
        rows = files_table(piq, job_id)
        assert [row[:2] for row in rows] == [
            ["receptor.pdbqt", "pdbqt"],
            ["poses.sdf", "sdf"],
            ["poses.pdbqt", "pdbqt"],
            ["complex.pdb", "pdb"],
        ], rows
        assert all(Path(row[3]).is_file() for row in rows)


# -- refusals at submit -------------------------------------------------------------


def test_a_contact_between_atoms_that_stay_is_refused_naming_both(
    shared_fixtures: Path,
) -> None:
    text = receptor_text(shared_fixtures, "1S3V", "backbone-clash")
    lines = text.splitlines()

    def first_line(number: int) -> int:
        return next(
            n
            for n, record in enumerate(lines, start=1)
            if atom_record(record) and int(record[22:26]) == number
        )

    with pytest.raises(ValidationError) as info:
        TOOL.validate(job_inputs(text), TOOL.parse_settings(small_box("1S3V")))
    message = info.value.message
    assert (
        f"residue A:5 (ASN), line {first_line(5)}: its O is 1.30 Å from N of A:114 (ILE), "
        f"line {first_line(114)}: closer than 1.64 Å, which meeko reads as a bond"
    ) in message, message
    assert info.value.errors[0]["line"] == first_line(5)
    # A side chain as close is placed again: the receptor passes.
    clash = receptor_text(shared_fixtures, "1S3V", "side-chain-clash")
    TOOL.validate(job_inputs(clash), TOOL.parse_settings(small_box("1S3V")))
    # With delete_bad_residues the residue is left out, and said so.
    settings = TOOL.parse_settings({**small_box("1S3V"), "delete_bad_residues": True})
    TOOL.validate(job_inputs(text), settings)


def ca_only(text: str, number: int = 50) -> str:
    """Residue ``number`` reduced to its CA atom."""
    return (
        "\n".join(
            line
            for line in text.splitlines()
            if not (
                atom_record(line) and int(line[22:26]) == number and line[12:16].strip() != "CA"
            )
        )
        + "\n"
    )


def test_a_residue_with_only_its_ca_is_refused_with_its_line(shared_fixtures: Path) -> None:
    text = ca_only(receptor_text(shared_fixtures, "1S3V", "as-is"))
    line = next(
        n
        for n, record in enumerate(text.splitlines(), start=1)
        if atom_record(record) and int(record[22:26]) == 50
    )
    with pytest.raises(ValidationError) as info:
        TOOL.validate(job_inputs(text), TOOL.parse_settings(small_box("1S3V")))
    message = info.value.message
    assert "residue A:50 (", message
    assert f"line {line}: it has only CA" in message and "N, CA and C are needed" in message
    assert info.value.errors[0]["line"] == line
    # With delete_bad_residues it is left out, and said so.
    settings = TOOL.parse_settings({**small_box("1S3V"), "delete_bad_residues": True})
    TOOL.validate(job_inputs(text), settings)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (">sp|P54025\nMKVLAAGIVG\n", "the file has no atoms"),
        ("data_empty\n_cell.length_a 10\n", "no data block has an _atom_site table"),
        (
            "ATOM      1  N   ALA A   1      11.104  abc     -2.140  1.00  0.00           N\n",
            "line 1, characters 39-46",
        ),
    ],
    ids=["fasta", "mmcif-without-atoms", "bad-coordinate"],
)
def test_files_that_are_no_structure_are_refused(content: str, expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        TOOL.validate(job_inputs(content, ""), TOOL.parse_settings(small_box("1S3V")))


def test_a_refused_receptor_creates_no_job_and_costs_nothing(
    shared_fixtures: Path, tmp_path: Path, database_url: str
) -> None:
    piq = cli_on(database_url, tmp_path)
    path = tmp_path / "broken.pdb"
    path.write_text(ca_only(receptor_text(shared_fixtures, "1S3V", "as-is")))
    before = json.loads(piq("credits", "--json").stdout)["workspace"]["credits"]["available"]
    result = dock(piq, path, "CCO", "1S3V", code=1)
    [error] = result.stderr.strip().splitlines()
    assert error.startswith("piq: error: ") and "residue A:50 (" in error and "line " in error
    assert json.loads(piq("jobs", "--json").stdout)["items"] == []
    after = json.loads(piq("credits", "--json").stdout)["workspace"]["credits"]["available"]
    assert after == before == 500


def water_in_a_proline_ring(text: str) -> str:
    """A water 1.5 Å from 1S3V's Pro 66 CD, both where the entry has it and where a
    rebuilt ring lies (its other atoms are 2.9 Å or more away): no placement of
    the ring clears it."""
    lines = text.splitlines()
    end = max(i for i, line in enumerate(lines) if atom_record(line))
    water = "HETATM 9999  O   HOH A 900      -0.082  22.914  18.117  1.00  0.00           O"
    return "\n".join([*lines[: end + 1], water, *lines[end + 1 :]]) + "\n"


def test_a_side_chain_with_no_room_is_left_out_past_cb(shared_fixtures: Path) -> None:
    """The water is kept (remove_heteroatoms false) and Pro 66's ring cannot be
    placed clear of it: the receptor passes submit and is prepared with the residue
    as alanine, reported, rather than failed."""
    text = water_in_a_proline_ring(receptor_text(shared_fixtures, "1S3V", "as-is"))
    settings = {**small_box("1S3V"), "remove_heteroatoms": False}
    TOOL.validate(job_inputs(text), TOOL.parse_settings(settings))
    pdbqt, report = prepare_receptor_reported(text, ReceptorOptions(remove_heteroatoms=False))
    assert report.left_out == [
        "A:66 (PRO): side chain past CB (no place for it clear of its neighbours; prepared as ALA)"
    ]
    residue_66 = [line for line in pdbqt.splitlines() if line[17:26] == "ALA A  66"]
    assert {line[12:16].strip() for line in residue_66} == {"N", "CA", "C", "O", "CB", "H"}
    assert any(line[17:20] == "HOH" for line in pdbqt.splitlines())


def test_hydrogens_follow_the_chosen_ph(shared_fixtures: Path) -> None:
    """DHFR as OpenMM wrote it has no hydrogens: PDBFixer adds them at the setting's
    pH, so at pH 4 its aspartates, glutamates and histidines carry more polar
    hydrogens (AutoDock type HD) than at the default 7.4."""
    text = receptor_text(shared_fixtures, "1S3V", "as-is")

    def polar_hydrogens(ph: float) -> int:
        pdbqt = prepare_receptor(text, ReceptorOptions(ph=ph))
        return sum(1 for line in pdbqt.splitlines() if line[77:79].strip() == "HD")

    neutral, acidic = polar_hydrogens(7.4), polar_hydrogens(4.0)
    assert acidic > neutral > 0
