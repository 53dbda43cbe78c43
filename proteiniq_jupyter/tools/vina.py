"""AutoDock Vina docking: a receptor prepared with meeko, ligands from SMILES or SDF,
and a box given by coordinates, a reference ligand or receptor residues.

vina and meeko are the optional ``docking`` extra, so they are imported inside the
functions that use them: the catalogue lists the tool where they are missing, and a
job then fails before it starts, uncharged, naming what to install.

The expensive steps are plain functions (``prepare_receptor``, ``prepare_ligand``,
``dock``) so they can be timed and compared with the bare Vina API on their own.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import json
import math
import os
import pickle
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

import pydantic
from rdkit import Chem

from ..jobs.errors import ValidationError
from ..jobs.model import Estimate, EstimateLine, JobInput, JsonDict, ResultFile, ToolResult
from ..recent import Recent
from .base import InputSlot, OutputField, RunContext, Tool
from .molecule import (
    SmilesToSdfSettings,
    check_v2000,
    embed_molecule,
    parse_sdf,
    parse_smiles_lines,
    rdkit_log,
    split_sdf,
)
from .parsing import (
    ErrorList,
    check_size,
    fail,
    only_item,
    settings_as,
    split_lines,
    summary_fields,
)
from .structure import check_pdb_text

INSTALL_HINT = "pip install 'proteiniq-jupyter[docking]'"
#: Vina's grid holds at most 126 Å along each axis at its default 0.375 Å spacing.
MAX_BOX_SIDE = 126.0
#: Seed of the ETKDG embedding of SMILES ligands, so a ligand starts from the same
#: conformer in every job (Vina's own seed is a setting).
EMBED_SEED = 42
#: The ligand a worker's fork server prepares once (``warm_up``): tyrosine, small,
#: with an amine, an acid, an aromatic ring and a hydroxyl to type.
WARM_UP_SMILES = "NC(Cc1ccc(O)cc1)C(=O)O"
CREDITS_PER_LIGAND = 2
REFERENCE_EXHAUSTIVENESS = 8
RECEPTOR_CACHE = "vina-receptors"
#: Part of every receptor cache key; raise it when preparation changes, so entries
#: made the old way are not reused.
CACHE_VERSION = 1
#: Elements Vina has atom types for in a ligand (boron, selenium and metals have none).
LIGAND_ELEMENTS = ("H", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I", "Si")

_RECEPTOR = "receptor"
_LIGANDS = "ligands"
_REFERENCE = "reference_ligand"
_SMILES_FORMATS = ("smiles", "smi")
_SDF_FORMATS = ("sdf", "mol")
_VINA_RESULT = re.compile(r"^REMARK VINA RESULT:\s+(\S+)\s+(\S+)\s+(\S+)", re.MULTILINE)
#: AutoDock atom type -> element, for writing the receptor back as PDB.
_AD_ELEMENTS = {
    "A": "C",
    "HD": "H",
    "HS": "H",
    "NA": "N",
    "NS": "N",
    "OA": "O",
    "OS": "O",
    "SA": "S",
    "G0": "C",
    "G1": "C",
    "G2": "C",
    "G3": "C",
    "CG0": "C",
    "CG1": "C",
    "CG2": "C",
    "CG3": "C",
    "W": "O",
}

ResidueId = Annotated[
    str,
    pydantic.StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9]?:-?\d{1,4}[A-Za-z]?$"),
]


class PreparationError(ValueError):
    """A receptor or ligand that meeko or RDKit cannot make ready for Vina."""


# -- settings -----------------------------------------------------------------


class VinaSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    mode: Literal["single", "simultaneous"] = pydantic.Field(
        "single",
        description="single: one ligand per job (several ligands go in as a batch, one "
        "job each); simultaneous: 2 or more ligands docked together into the same box",
    )
    center_x: float | None = pydantic.Field(
        None, ge=-10_000, le=10_000, description="box centre, x (Å); give with the other five"
    )
    center_y: float | None = pydantic.Field(
        None, ge=-10_000, le=10_000, description="box centre, y (Å)"
    )
    center_z: float | None = pydantic.Field(
        None, ge=-10_000, le=10_000, description="box centre, z (Å)"
    )
    size_x: float | None = pydantic.Field(
        None, gt=0, le=MAX_BOX_SIDE, description="box edge along x (Å)"
    )
    size_y: float | None = pydantic.Field(
        None, gt=0, le=MAX_BOX_SIDE, description="box edge along y (Å)"
    )
    size_z: float | None = pydantic.Field(
        None, gt=0, le=MAX_BOX_SIDE, description="box edge along z (Å)"
    )
    box_residues: list[ResidueId] | None = pydantic.Field(
        None,
        min_length=1,
        max_length=100,
        description="box around these receptor residues, as 'chain:number' (':number' "
        "when the chain has no name), plus padding",
        examples=[["A:32", "A:228"]],
    )
    padding: float = pydantic.Field(
        4.0,
        ge=0,
        le=20,
        description="Å added on every side of the reference ligand's or the residues' "
        "extent to make the box",
    )
    exhaustiveness: int = pydantic.Field(
        8, ge=1, le=64, description="independent Monte Carlo runs; more is slower and surer"
    )
    num_poses: int = pydantic.Field(9, ge=1, le=20, description="poses reported at most")
    energy_range: float = pydantic.Field(
        3.0, gt=0, le=10, description="poses at most this far above the best (kcal/mol)"
    )
    seed: int = pydantic.Field(
        42,
        ge=0,
        le=2**31 - 1,
        description="seed of Vina's search: the same inputs, settings and seed give the "
        "same poses; 0 lets Vina pick one at random (the seed used is in the results)",
    )
    scoring: Literal["vina", "vinardo"] = pydantic.Field("vina", description="scoring function")
    remove_heteroatoms: bool = pydantic.Field(
        True,
        description="drop the receptor's HETATM records (waters, ions, bound ligands) "
        "before preparation; the receptor's first model is used",
    )
    delete_bad_residues: bool = pydantic.Field(
        False,
        description="leave out receptor residues meeko cannot match to a template "
        "(missing atoms, unknown names) instead of failing",
    )


@dataclass(frozen=True)
class ReceptorOptions:
    """What changes a prepared receptor: part of its cache key."""

    remove_heteroatoms: bool = True
    delete_bad_residues: bool = False

    @classmethod
    def of(cls, settings: VinaSettings) -> ReceptorOptions:
        return cls(settings.remove_heteroatoms, settings.delete_bad_residues)


# -- geometry -----------------------------------------------------------------

Point = tuple[float, float, float]


@dataclass(frozen=True)
class Box:
    """Vina's search box: centre and edge lengths in Å."""

    center: Point
    size: Point

    @classmethod
    def around(cls, points: Sequence[Point], padding: float) -> Box:
        """The axis-aligned box enclosing ``points`` with ``padding`` on every side,
        centred on the middle of their extent (as meeko's ``calc_box`` does) so that
        an off-centre atom cannot poke out."""
        lows = [min(p[axis] for p in points) for axis in range(3)]
        highs = [max(p[axis] for p in points) for axis in range(3)]
        return cls(
            center=(
                round((lows[0] + highs[0]) / 2, 3),
                round((lows[1] + highs[1]) / 2, 3),
                round((lows[2] + highs[2]) / 2, 3),
            ),
            size=(
                round(highs[0] - lows[0] + 2 * padding, 3),
                round(highs[1] - lows[1] + 2 * padding, 3),
                round(highs[2] - lows[2] + 2 * padding, 3),
            ),
        )

    def contains(self, point: Point) -> bool:
        return all(abs(point[i] - self.center[i]) <= self.size[i] / 2 for i in range(3))

    def to_fields(self) -> JsonDict:
        return {
            "box_center_x": self.center[0],
            "box_center_y": self.center[1],
            "box_center_z": self.center[2],
            "box_size_x": self.size[0],
            "box_size_y": self.size[1],
            "box_size_z": self.size[2],
        }


class PdbAtom(NamedTuple):
    """An ATOM/HETATM record of the first model, as far as the box needs it (a
    tuple: a receptor has thousands, read in every job)."""

    line: int
    hetero: bool
    chain: str
    residue: str  # meeko's key: chain:number plus insertion code
    resname: str
    position: Point


def pdb_atoms(text: str) -> list[PdbAtom]:
    """The atoms of the first model of a PDB or PDBQT text whose columns
    ``check_pdb_text`` has already checked."""
    atoms: list[PdbAtom] = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.startswith(("ATOM", "HETATM", "ENDMDL")):
            continue
        record = line[:6].rstrip()
        if record == "ENDMDL":
            break
        if record not in ("ATOM", "HETATM"):
            continue
        chain = line[21:22].strip()
        resseq = line[22:26].strip()
        with_number = str(int(resseq)) if resseq.lstrip("-").isdigit() else resseq
        atoms.append(
            PdbAtom(
                number,
                record == "HETATM",
                chain,
                f"{chain}:{with_number}{line[26:27].strip()}",
                line[17:20].strip(),
                (float(line[30:38]), float(line[38:46]), float(line[46:54])),
            )
        )
    return atoms


# -- receptor -----------------------------------------------------------------


#: The atoms of the last few receptors whose records passed their checks, by the
#: text's digest: a docking campaign submits one receptor with every ligand, and
#: need not read and check it again each time.
_WELL_FORMED_RECEPTORS: Recent[bytes, tuple[PdbAtom, ...]] = Recent(4)


def receptor_format(item: JobInput) -> str:
    """pdbqt for a receptor given prepared, else pdb (to be prepared with meeko)."""
    return "pdbqt" if item.format.lower() == "pdbqt" else "pdb"


def receptor_for_preparation(text: str, remove_heteroatoms: bool = True) -> str:
    """The receptor text meeko reads: the first model only, without anisotropic
    records or CONECTs (which may name removed atoms), and without HETATM records
    when asked."""
    kept: list[str] = []
    for line in split_lines(text):
        record = line[:6].rstrip()
        if record == "ENDMDL":
            break
        if record in ("MODEL", "ANISOU", "CONECT") or (remove_heteroatoms and record == "HETATM"):
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def receptor_cache_key(text: str, options: ReceptorOptions) -> str:
    """sha256 of the receptor text, the preparation options and the meeko version."""
    import meeko  # type: ignore[import-untyped, unused-ignore]

    material = json.dumps(
        {
            "version": CACHE_VERSION,
            "meeko": meeko.__version__,
            "remove_heteroatoms": options.remove_heteroatoms,
            "delete_bad_residues": options.delete_bad_residues,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(material.encode())
    digest.update(b"\0")
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def prepare_receptor(text: str, options: ReceptorOptions | None = None) -> str:
    """A PDB receptor as Vina's rigid PDBQT, by meeko (hydrogens added from residue
    templates, Gasteiger charges from the templates, AutoDock atom types).

    Residues meeko has no template for are refused here (or dropped with
    ``delete_bad_residues``) because meeko would otherwise try to download one from
    the PDB, which a job must not depend on."""
    from meeko import (  # type: ignore[import-untyped, unused-ignore]
        MoleculePreparation,
        PDBQTWriterLegacy,
        Polymer,
        PolymerCreationError,
    )

    options = options or ReceptorOptions()
    pdb = receptor_for_preparation(text, options.remove_heteroatoms)
    templates = residue_templates()
    known = set(templates.residue_templates) | set(templates.ambiguous)
    atoms = pdb_atoms(pdb)
    if not atoms:
        raise PreparationError("the receptor has no atoms left to prepare")
    unknown: dict[str, str] = {}
    for atom in atoms:
        if atom.resname not in known:
            unknown.setdefault(atom.residue, atom.resname)
    if unknown and not options.delete_bad_residues:
        listed = ", ".join(f"{key} ({name})" for key, name in list(unknown.items())[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise PreparationError(
            f"the receptor has residues with no meeko template: {listed}{more}; remove "
            "them from the file, or set delete_bad_residues to leave them out"
        )
    try:
        polymer = Polymer.from_pdb_string(
            pdb,
            templates,
            MoleculePreparation(),
            residues_to_delete=sorted(unknown) or None,
            allow_bad_res=options.delete_bad_residues,
            default_altloc="A",
        )
    except PolymerCreationError as exc:
        details = " ".join(
            line.strip().lstrip("- ")
            for line in str(exc.error).splitlines()
            if line.strip() and "--" not in line
        )
        raise PreparationError(
            f"meeko could not prepare the receptor: {details}. Fix those residues "
            "(often missing side-chain atoms), or set delete_bad_residues to leave them out"
        ) from None
    rigid, _flexible = PDBQTWriterLegacy.write_from_polymer(polymer)
    if not rigid.strip():
        raise PreparationError("no receptor residue is left after preparation")
    return str(rigid)


@functools.cache
def _residue_templates_pickled() -> bytes:
    from meeko import ResidueChemTemplates  # type: ignore[import-untyped, unused-ignore]

    return pickle.dumps(ResidueChemTemplates.create_from_defaults())


def residue_templates() -> Any:
    """meeko's residue templates. Building them reads meeko's JSON (0.45 s), so that
    is done once per process (in a worker's fork server, once per worker); each
    preparation gets a copy of its own (0.09 s), as meeko may add to them."""
    return pickle.loads(_residue_templates_pickled())


def cached_receptor(
    text: str, cache_dir: Path, options: ReceptorOptions | None = None
) -> tuple[Path, bool]:
    """The prepared receptor's file in ``cache_dir`` and whether it was there already.

    Keyed by content, so every job on the same receptor shares one preparation; the
    file is written to a temporary name and renamed, so a job never reads a half
    file while another writes it."""
    options = options or ReceptorOptions()
    path = cache_dir / f"{receptor_cache_key(text, options)}.pdbqt"
    if path.is_file():
        return path, True
    write_atomically(path, prepare_receptor(text, options))
    return path, False


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- ligands ------------------------------------------------------------------


@dataclass(frozen=True)
class Ligand:
    """One ligand of the input: its number, name and place (for messages), the
    molecule, and its own text (a batch child's input)."""

    number: int
    name: str
    place: str
    mol: Chem.Mol
    text: str


def ligand_format(item: JobInput) -> str:
    declared = item.format.lower()
    if declared in _SDF_FORMATS:
        return "sdf"
    if declared in _SMILES_FORMATS:
        return "smiles"
    return "sdf" if "M  END" in item.content or "$$$$" in item.content else "smiles"


def read_ligands(item: JobInput, index: int, *, max_heavy_atoms: int | None = None) -> list[Ligand]:
    """Every ligand of the input, each checked for what Vina can dock: one connected
    molecule, of elements Vina has types for. Problems name the ligand."""
    ligands: list[Ligand] = []
    if ligand_format(item) == "sdf":
        for entry in parse_sdf(item.content, index=index, slot=item.slot_id):
            record = entry.record
            ligands.append(
                Ligand(
                    number=record.number,
                    name=record.title or f"record {record.number}",
                    place=record.place,
                    mol=entry.mol,
                    text=record.block() + "$$$$\n",
                )
            )
    else:
        for smiles in parse_smiles_lines(item.content, index=index, slot=item.slot_id):
            ligands.append(
                Ligand(
                    number=smiles.number,
                    name=smiles.name,
                    place=f"molecule {smiles.number} ({smiles.name!r}), line {smiles.line}",
                    mol=smiles.mol,
                    text=f"{smiles.smiles} {smiles.name}\n",
                )
            )
    errors = ErrorList(index=index, slot=item.slot_id)
    for ligand in ligands:
        place = {"molecule": ligand.number, "name": ligand.name}
        fragments = len(Chem.GetMolFrags(ligand.mol))
        if fragments > 1:
            errors.add(
                f"{ligand.place}: the molecule has {fragments} separate fragments; Vina docks "
                "one connected molecule per ligand, so remove counter-ions and solvents",
                **place,
            )
        foreign = sorted({a.GetSymbol() for a in ligand.mol.GetAtoms()} - set(LIGAND_ELEMENTS))
        if foreign:
            errors.add(
                f"{ligand.place}: Vina has no atom type for {', '.join(foreign)}; it docks "
                f"ligands made of {', '.join(LIGAND_ELEMENTS)}",
                **place,
            )
        heavy = ligand.mol.GetNumHeavyAtoms()
        if max_heavy_atoms is not None and heavy > max_heavy_atoms:
            errors.add(
                f"{ligand.place}: the molecule has {heavy} heavy atoms; the limit is "
                f"{max_heavy_atoms}",
                **place,
            )
    errors.raise_if_any()
    return ligands


def ligand_3d(mol: Chem.Mol, seed: int = EMBED_SEED) -> Chem.Mol:
    """The molecule with hydrogens and 3D coordinates: its own where it has them
    (an SDF from a modelling program), else ETKDG v3 with a fixed seed and MMFF94."""
    if mol.GetNumConformers() and mol.GetConformer().Is3D():
        positions = mol.GetConformer().GetPositions()
        if positions.size and abs(positions[:, 2]).max() > 1e-4:
            return Chem.AddHs(mol, addCoords=True)
    try:
        embedded, _ = embed_molecule(mol, SmilesToSdfSettings(random_seed=seed))
    except RuntimeError as exc:
        raise PreparationError(str(exc)) from None
    return embedded


def prepare_ligand(ligand: Chem.Mol | str, *, name: str = "ligand", seed: int = EMBED_SEED) -> str:
    """A ligand (an RDKit molecule, or a SMILES) as Vina's PDBQT by meeko: hydrogens,
    3D coordinates (``ligand_3d``), Gasteiger charges, rotatable bonds."""
    from meeko import MoleculePreparation, PDBQTWriterLegacy  # type: ignore[import-untyped, unused-ignore]

    if isinstance(ligand, str):
        with rdkit_log():
            parsed = Chem.MolFromSmiles(ligand)
        if parsed is None:
            raise PreparationError(f"{name}: RDKit cannot parse the SMILES {ligand!r}")
        ligand = parsed
    mol = ligand_3d(ligand, seed)
    mol.SetProp("_Name", name)
    try:
        setups = MoleculePreparation().prepare(mol)
    except (ValueError, RuntimeError) as exc:
        raise PreparationError(f"{name}: meeko cannot prepare the molecule: {exc}") from None
    if len(setups) != 1:
        raise PreparationError(f"{name}: meeko made {len(setups)} setups of one molecule")
    pdbqt, ok, error = PDBQTWriterLegacy.write_string(setups[0])
    if not ok:
        raise PreparationError(f"{name}: meeko cannot write it as PDBQT: {str(error).strip()}")
    return str(pdbqt)


# -- docking ------------------------------------------------------------------


@dataclass(frozen=True)
class Pose:
    rank: int
    affinity: float  # kcal/mol
    rmsd_lb: float  # Å from the best pose, lower bound
    rmsd_ub: float  # Å from the best pose, upper bound


@dataclass(frozen=True)
class DockingResult:
    """Vina's poses (best first) and its output PDBQT, one MODEL per pose holding
    every ligand docked; ``seed`` is the seed Vina used."""

    poses: tuple[Pose, ...]
    pdbqt: str
    seed: int


def available_cpus() -> int:
    """CPUs this process may use (its affinity mask, which a container or a
    scheduler may narrow), rather than all the machine has."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def dock(
    receptor_pdbqt: str | os.PathLike[str],
    ligand_pdbqts: Sequence[str],
    box: Box,
    settings: VinaSettings | None = None,
    *,
    cpu: int | None = None,
) -> DockingResult:
    """Dock prepared ligands into a prepared receptor with Vina's Python API.

    ``receptor_pdbqt`` is PDBQT text, or a path to a ``.pdbqt`` file (Vina reads the
    receptor only from a file). Several ligands are docked together, as Vina's
    ``set_ligand_from_string`` takes them. Vina is asked for ``num_poses`` poses
    within ``energy_range``, as its command line does."""
    from vina import Vina  # type: ignore[import-untyped, unused-ignore]

    options = settings or VinaSettings()
    if not ligand_pdbqts:
        raise ValueError("dock needs at least one ligand")
    with tempfile.TemporaryDirectory(prefix="piq-vina-") as scratch:
        if isinstance(receptor_pdbqt, str):
            receptor_path = Path(scratch) / "receptor.pdbqt"
            receptor_path.write_text(receptor_pdbqt, encoding="utf-8")
        else:
            receptor_path = Path(receptor_pdbqt)
        vina = Vina(
            sf_name=options.scoring,
            # Vina runs at most one thread per Monte Carlo run.
            cpu=cpu if cpu is not None else min(available_cpus(), options.exhaustiveness),
            seed=options.seed,
            verbosity=0,
        )
        vina.set_receptor(str(receptor_path))
        ligands = list(ligand_pdbqts)
        vina.set_ligand_from_string(ligands if len(ligands) > 1 else ligands[0])
        vina.compute_vina_maps(center=list(box.center), box_size=list(box.size))
        vina.dock(exhaustiveness=options.exhaustiveness, n_poses=options.num_poses)
        text = str(vina.poses(n_poses=options.num_poses, energy_range=options.energy_range))
        seed = int(vina.info()["seed"])
    poses = tuple(
        Pose(rank, float(affinity), float(lower), float(upper))
        for rank, (affinity, lower, upper) in enumerate(_VINA_RESULT.findall(text), start=1)
    )
    if not poses:
        raise RuntimeError("Vina returned no pose")
    return DockingResult(poses=poses, pdbqt=text, seed=seed)


def pose_molecules(poses_pdbqt: str, names: Sequence[str]) -> list[list[Chem.Mol]]:
    """RDKit molecules of every pose (one list per pose, one molecule per ligand),
    rebuilt by meeko from the SMILES it wrote into each ligand's PDBQT, with
    the docked coordinates and all hydrogens."""
    from meeko import PDBQTMolecule, RDKitMolCreate  # type: ignore[import-untyped, unused-ignore]

    molecules = RDKitMolCreate.from_pdbqt_mol(PDBQTMolecule(poses_pdbqt, skip_typing=True))
    if len(molecules) != len(names) or any(mol is None for mol in molecules):
        raise RuntimeError(
            f"meeko rebuilt {sum(m is not None for m in molecules)} of {len(names)} docked "
            "ligands as RDKit molecules"
        )
    per_ligand: list[list[Chem.Mol]] = []
    for mol, name in zip(molecules, names, strict=True):
        mol.ClearProp("meeko")
        one_each = []
        for conformer in mol.GetConformers():
            pose = Chem.Mol(mol, False, conformer.GetId())
            pose.SetProp("_Name", name)
            one_each.append(pose)
        per_ligand.append(one_each)
    return [list(ligands) for ligands in zip(*per_ligand, strict=True)]


def poses_sdf(poses: Sequence[Pose], molecules: Sequence[Sequence[Chem.Mol]]) -> str:
    """One SD record per ligand per pose, carrying the pose's rank, affinity and RMSDs."""
    buffer = io.StringIO()
    writer = Chem.SDWriter(buffer)
    for pose, ligands in zip(poses, molecules, strict=True):
        for mol in ligands:
            record = Chem.Mol(mol)
            record.SetProp("ligand", mol.GetProp("_Name"))
            record.SetProp("pose", str(pose.rank))
            record.SetProp("affinity", f"{pose.affinity:.3f}")
            record.SetProp("affinity_unit", "kcal/mol")
            record.SetProp("rmsd_lb", f"{pose.rmsd_lb:.3f}")
            record.SetProp("rmsd_ub", f"{pose.rmsd_ub:.3f}")
            writer.write(record)
    writer.close()
    return buffer.getvalue()


def complex_pdb(receptor_pdbqt: str, ligands: Sequence[Chem.Mol], title: str) -> str:
    """The receptor with the docked ligands as HETATM residues LIG in a chain of their
    own, for viewers that read PDB but not PDBQT."""
    lines = [f"REMARK   1 {title}"]
    serial = 0
    chains: set[str] = set()
    for line in split_lines(receptor_pdbqt):
        record = line[:6]
        if record in ("ATOM  ", "HETATM"):
            serial += 1
            atom_type = line[77:80].strip()
            element = _AD_ELEMENTS.get(atom_type, atom_type).upper()
            chains.add(line[21:22])
            lines.append(f"{record}{serial:5d}{line[11:66].ljust(55)}          {element:>2s}")
        elif record.startswith("TER"):
            lines.append("TER")
    if lines[-1] != "TER":
        lines.append("TER")
    chain = next((c for c in "LXYZWVUTSRQPONM" if c not in chains), "L")
    conect: list[str] = []
    for number, mol in enumerate(ligands, start=1):
        conformer = mol.GetConformer()
        first = serial + 1
        counts: dict[str, int] = {}
        for atom in mol.GetAtoms():
            serial += 1
            symbol = atom.GetSymbol()
            counts[symbol] = counts.get(symbol, 0) + 1
            label = f"{symbol.upper()}{counts[symbol]}"
            name = f" {label:<3s}" if len(symbol) == 1 and len(label) < 4 else f"{label:<4s}"[:4]
            p = conformer.GetAtomPosition(atom.GetIdx())
            lines.append(
                f"HETATM{serial:5d} {name} LIG {chain}{number:4d}    "
                f"{p.x:8.3f}{p.y:8.3f}{p.z:8.3f}  1.00  0.00          {symbol.upper():>2s}"
            )
        for atom in mol.GetAtoms():
            bonded = [first + n.GetIdx() for n in atom.GetNeighbors()]
            for start in range(0, len(bonded), 4):
                chunk = "".join(f"{b:5d}" for b in bonded[start : start + 4])
                conect.append(f"CONECT{first + atom.GetIdx():5d}{chunk}")
    lines.extend(["TER", *conect, "END"])
    return "\n".join(lines) + "\n"


# -- the tool -----------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    receptor: JobInput
    ligands: list[Ligand]
    box: Box
    box_source: str


class AutodockVina(Tool):
    """Dock small molecules into a protein with AutoDock Vina."""

    id = "autodock-vina"
    name = "AutoDock Vina"
    description = (
        "Dock ligands (SMILES or SDF) into a receptor (PDB) with AutoDock Vina 1.2. The "
        "receptor and ligands are prepared with meeko; the box comes from coordinates, a "
        "reference ligand or receptor residues. Poses come back as SDF with affinities, "
        "with the prepared receptor and a receptor-ligand complex."
    )
    category = "docking"
    subcategory = "small molecule"
    tags = ("docking", "vina", "autodock", "ligand", "receptor", "meeko", "pose")
    gpu = False
    preload = ("rdkit.Chem.AllChem", "scipy.spatial", "meeko", "vina")
    time_limit_s = 3600.0
    slots = (
        InputSlot(
            id=_RECEPTOR,
            kind="structure",
            formats=("pdb", "ent", "pdbqt"),
            label="Receptor",
            description="The protein in PDB format, prepared here with meeko; a PDBQT "
            "file is taken as already prepared.",
        ),
        InputSlot(
            id=_LIGANDS,
            kind="ligand",
            formats=(*_SMILES_FORMATS, *_SDF_FORMATS),
            label="Ligands",
            description="One SMILES per line (optionally a space and a name), or SD "
            "records. One ligand per job; several as a batch, or docked together in "
            "simultaneous mode.",
        ),
        InputSlot(
            id=_REFERENCE,
            kind="ligand",
            formats=("mol2", "sdf", "mol", "pdb", "pdbqt"),
            label="Reference ligand",
            description="A ligand placed in the site (a co-crystallised one): the box "
            "encloses it, plus padding.",
            required=False,
        ),
    )
    outputs = (
        OutputField("mode", "single or simultaneous"),
        OutputField("ligands", "ligands docked in the job"),
        OutputField("ligand", "ligand name(s), joined by ' + ' in simultaneous mode"),
        OutputField("poses", "poses returned"),
        OutputField("best_affinity", "affinity of the best pose", "kcal/mol"),
        OutputField("receptor_cached", "the prepared receptor came from the cache"),
        OutputField("box_source", "settings, reference_ligand or box_residues"),
        OutputField("box_center_x", "box centre, x", "Å"),
        OutputField("box_center_y", "box centre, y", "Å"),
        OutputField("box_center_z", "box centre, z", "Å"),
        OutputField("box_size_x", "box edge along x", "Å"),
        OutputField("box_size_y", "box edge along y", "Å"),
        OutputField("box_size_z", "box edge along z", "Å"),
        OutputField("exhaustiveness", "Monte Carlo runs"),
        OutputField("scoring", "scoring function"),
        OutputField("seed", "the seed Vina used"),
        OutputField("pose", "pose rank, best first (per-pose rows)"),
        OutputField("affinity", "Vina affinity of the pose (per-pose rows)", "kcal/mol"),
        OutputField("rmsd_lb", "RMSD from the best pose, lower bound (per-pose rows)", "Å"),
        OutputField("rmsd_ub", "RMSD from the best pose, upper bound (per-pose rows)", "Å"),
    )
    settings_model = VinaSettings
    limits: ClassVar[JsonDict] = {
        "max_batch_items": 10,
        "max_ligands": 10,
        "max_ligand_heavy_atoms": 150,
        "max_receptor_bytes": 20_000_000,
        "max_receptor_atoms": 99_999,
        "max_ligand_bytes": 2_000_000,
        "max_box_side": MAX_BOX_SIDE,
    }
    credit_description = (
        f"{CREDITS_PER_LIGAND} credits per ligand at exhaustiveness "
        f"{REFERENCE_EXHAUSTIVENESS}, scaled by exhaustiveness/{REFERENCE_EXHAUSTIVENESS} "
        "and rounded up (at least 1 per ligand)"
    )
    credit_rates: ClassVar[JsonDict] = {
        "credits_per_ligand": CREDITS_PER_LIGAND,
        "reference_exhaustiveness": REFERENCE_EXHAUSTIVENESS,
        "minimum_per_ligand": 1,
    }

    # -- checks -------------------------------------------------------------

    def _read(
        self,
        inputs: Sequence[JobInput],
        options: VinaSettings,
        *,
        batch: bool = False,
        checked: bool = False,
    ) -> _Request:
        """The job's receptor, ligands and box. ``checked``: these inputs passed
        every check at submit, so the job reads only what it uses; the receptor's
        atoms (for a 5,900-atom receptor, 25 to 50 ms) only for a box around
        residues."""
        index, receptor = only_item(inputs, _RECEPTOR)
        if checked:
            atoms: Sequence[PdbAtom] = pdb_atoms(receptor.content) if options.box_residues else []
        else:
            atoms = self._receptor(receptor, index, options)
        ligands = self._ligands(inputs, options, batch=batch)
        box, source = self._box(inputs, options, atoms, checked=checked)
        return _Request(receptor, ligands, box, source)

    def _receptor(self, item: JobInput, index: int, options: VinaSettings) -> Sequence[PdbAtom]:
        check_size(item, index, self.limits["max_receptor_bytes"])
        errors = ErrorList(index=index, slot=_RECEPTOR)

        def read_checked() -> tuple[PdbAtom, ...]:
            check_pdb_text(item.content, errors)
            errors.raise_if_any()
            return tuple(pdb_atoms(item.content))

        digest = hashlib.sha256(item.content.encode("utf-8")).digest()
        atoms = _WELL_FORMED_RECEPTORS.get_or_make(digest, read_checked)
        if not atoms:
            fail("the receptor has no atoms: there is no ATOM or HETATM record", index=index)
        if len(atoms) > self.limits["max_receptor_atoms"]:
            fail(
                f"the receptor has {len(atoms):,} atoms; the limit is "
                f"{self.limits['max_receptor_atoms']:,}",
                index=index,
                slot=_RECEPTOR,
            )
        if receptor_format(item) == "pdbqt":
            lines = split_lines(item.content)
            for atom in atoms:
                if not lines[atom.line - 1][77:80].strip():
                    errors.add(
                        f"line {atom.line}, characters 78-79: the PDBQT atom has no "
                        "AutoDock atom type",
                        line=atom.line,
                        column=78,
                    )
                    break
        elif options.remove_heteroatoms and all(atom.hetero for atom in atoms):
            errors.add(
                "the receptor has only HETATM records, which are removed before "
                "preparation; set remove_heteroatoms to false to keep them"
            )
        errors.raise_if_any()
        return atoms

    def _ligands(
        self, inputs: Sequence[JobInput], options: VinaSettings, *, batch: bool = False
    ) -> list[Ligand]:
        index, item = only_item(inputs, _LIGANDS)
        check_size(item, index, self.limits["max_ligand_bytes"])
        ligands = read_ligands(item, index, max_heavy_atoms=self.limits["max_ligand_heavy_atoms"])
        count = len(ligands)
        limit = int(self.limits["max_batch_items" if batch else "max_ligands"])
        message = None
        if batch and count > limit:
            message = f"a batch docks at most {limit} ligands (one job each); the input has {count}"
        elif not batch and options.mode == "single" and count != 1:
            message = (
                f"mode 'single' docks one ligand, but the input has {count}: submit them "
                "as a batch (one job per ligand) or set mode to 'simultaneous'"
            )
        elif not batch and options.mode == "simultaneous" and not 2 <= count <= limit:
            message = (
                f"mode 'simultaneous' docks 2 to {limit} ligands together; the input has {count}"
            )
        if message is not None:
            fail(message, index=index, slot=_LIGANDS)
        return ligands

    def _box(
        self,
        inputs: Sequence[JobInput],
        options: VinaSettings,
        atoms: Sequence[PdbAtom],
        *,
        checked: bool = False,
    ) -> tuple[Box, str]:
        names = ("center_x", "center_y", "center_z", "size_x", "size_y", "size_z")
        values = {name: getattr(options, name) for name in names}
        given = [name for name in names if values[name] is not None]
        references = self.slot_items(inputs, _REFERENCE)
        sources = [
            label
            for label, present in (
                ("the box centre and size in the settings", bool(given)),
                ("a reference ligand", bool(references)),
                ("box_residues", bool(options.box_residues)),
            )
            if present
        ]
        if not sources:
            _settings_error(
                "no docking box: give its centre and size (center_x, center_y, center_z, "
                "size_x, size_y, size_z), a reference ligand (input slot "
                "'reference_ligand'), or receptor residues (box_residues)",
                "settings",
            )
        if len(sources) > 1:
            _settings_error(f"give exactly one box source; got {' and '.join(sources)}", "settings")
        if given:
            missing = [name for name in names if values[name] is None]
            if missing:
                _settings_error(
                    "the box needs center_x, center_y, center_z, size_x, size_y and "
                    f"size_z together; missing {', '.join(missing)}",
                    f"settings.{missing[0]}",
                )
            numbers = [float(values[name]) for name in names]
            box = Box(
                center=(numbers[0], numbers[1], numbers[2]),
                size=(numbers[3], numbers[4], numbers[5]),
            )
            source, what = "settings", "the box"
        elif references:
            index, reference = references[0]
            box = Box.around(reference_points(reference, index), options.padding)
            source, what = "reference_ligand", "the box around the reference ligand"
        else:
            box = Box.around(residue_points(atoms, options.box_residues or []), options.padding)
            source, what = "box_residues", "the box around box_residues"
        for axis, side in zip("xyz", box.size, strict=True):
            if not 0 < side <= MAX_BOX_SIDE:
                _settings_error(
                    f"{what} is {side:g} Å along {axis}; each side must be more than 0 "
                    f"and at most {MAX_BOX_SIDE:g} Å (change padding or the box)",
                    "settings.padding" if source != "settings" else f"settings.size_{axis}",
                )
        if not checked and not any(box.contains(atom.position) for atom in atoms):
            _settings_error(
                f"{what} (centre {_point(box.center)}, size {_point(box.size)} Å) holds no "
                f"receptor atom; the receptor spans {_extent(atoms)}",
                "settings",
            )
        return box, source

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._read(inputs, settings_as(settings, VinaSettings))

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        options = settings_as(settings, VinaSettings)
        index, item = only_item(inputs, _LIGANDS)
        count = len(read_ligands(item, index))
        return Estimate((estimate_line(count, options.exhaustiveness),))

    @classmethod
    def warm_up(cls) -> None:
        """RDKit's embedding, meeko's ligand typing and its residue templates, and
        the reading of poses back, each once: in a fresh process their first use
        costs more than paracetamol's whole preparation."""
        pose_molecules(prepare_ligand(WARM_UP_SMILES, name="warm-up"), ["warm-up"])
        _residue_templates_pickled()

    def missing_requirements(self) -> str | None:
        missing = []
        for module in ("vina", "meeko", "scipy"):
            try:
                importlib.import_module(module)
            except ImportError as exc:
                missing.append(f"{module} ({exc})")
        if not missing:
            return None
        return (
            f"AutoDock Vina needs the vina and meeko packages; missing: {'; '.join(missing)}. "
            f"Install them with: {INSTALL_HINT}"
        )

    def batch_items(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel
    ) -> list[list[JobInput]]:
        """One job per ligand, each with the receptor and any reference ligand."""
        options = settings_as(settings, VinaSettings)
        if options.mode != "single":
            _settings_error(
                "a batch docks each ligand in a job of its own, so mode must be 'single'; "
                "to dock ligands together, submit one job in simultaneous mode",
                "settings.mode",
            )
        request = self._read(inputs, options, batch=True)
        children: list[list[JobInput]] = []
        for ligand in request.ligands:
            children.append(
                [
                    replace(
                        item,
                        id=f"{item.id}_{ligand.number}",
                        content=ligand.text,
                        label=ligand.name,
                    )
                    if item.slot_id == _LIGANDS
                    else item
                    for item in inputs
                ]
            )
        return children

    # -- run ------------------------------------------------------------------

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        options = settings_as(settings, VinaSettings)
        request = self._read(inputs, options, checked=True)
        names = [ligand.name for ligand in request.ligands]
        context.progress(0.02, "inputs checked")
        ligand_pdbqts = []
        for done, ligand in enumerate(request.ligands, start=1):
            try:
                ligand_pdbqts.append(prepare_ligand(ligand.mol, name=ligand.name))
            except PreparationError as exc:
                reason = str(exc).removeprefix(f"{ligand.name}: ")
                raise ValidationError(f"{ligand.place}: {reason}") from None
            context.progress(0.02 + 0.08 * done / len(request.ligands), f"ligand {done} prepared")
        files: list[ResultFile] = []
        if receptor_format(request.receptor) == "pdbqt":
            cached = False
            receptor_text = request.receptor.content
        else:
            context.progress(0.1, "preparing the receptor")
            try:
                path, cached = cached_receptor(
                    request.receptor.content,
                    context.cache(RECEPTOR_CACHE),
                    ReceptorOptions.of(options),
                )
            except PreparationError as exc:
                raise ValidationError(str(exc)) from None
            receptor_text = path.read_text(encoding="utf-8")
        files.append(context.write_file("receptor.pdbqt", receptor_text, "pdbqt"))
        context.progress(
            0.3,
            f"receptor {'from the cache' if cached else 'ready'}; docking with exhaustiveness "
            f"{options.exhaustiveness}",
        )
        result = dock(context.workdir / "receptor.pdbqt", ligand_pdbqts, request.box, options)
        context.progress(0.9, f"{len(result.poses)} poses; writing files")
        molecules = pose_molecules(result.pdbqt, names)
        label = " + ".join(names)
        files.append(context.write_file("poses.sdf", poses_sdf(result.poses, molecules), "sdf"))
        files.append(context.write_file("poses.pdbqt", result.pdbqt, "pdbqt"))
        best = result.poses[0]
        title = f"{label}: best Vina pose, affinity {best.affinity:.3f} kcal/mol"
        files.append(
            context.write_file(
                "complex.pdb", complex_pdb(receptor_text, molecules[0], title), "pdb"
            )
        )
        rows: list[JsonDict] = [
            {
                "index": pose.rank,
                "ligand": label,
                "pose": pose.rank,
                "affinity": pose.affinity,
                "rmsd_lb": pose.rmsd_lb,
                "rmsd_ub": pose.rmsd_ub,
            }
            for pose in result.poses
        ]
        summary: JsonDict = {
            "mode": options.mode,
            "ligands": len(names),
            "ligand": label,
            "poses": len(result.poses),
            "best_affinity": best.affinity,
            "receptor_cached": cached,
            "box_source": request.box_source,
            **request.box.to_fields(),
            "exhaustiveness": options.exhaustiveness,
            "scoring": options.scoring,
            "seed": result.seed,
        }
        context.progress(1.0, "done")
        return ToolResult(fields=summary_fields(summary, rows), rows=rows, files=files)


def estimate_line(ligands: int, exhaustiveness: int) -> EstimateLine:
    """Credits for ``ligands`` docked at ``exhaustiveness``: Vina's time grows about
    linearly with it, so the price does too; never free."""
    unit = max(1, math.ceil(CREDITS_PER_LIGAND * exhaustiveness / REFERENCE_EXHAUSTIVENESS))
    return EstimateLine(
        f"ligands docked at exhaustiveness {exhaustiveness}", ligands, unit, unit * ligands
    )


def reference_points(item: JobInput, index: int) -> list[Point]:
    """The atom positions of a reference ligand (mol2, SDF/mol, PDB or PDBQT); only
    its first molecule counts."""
    text = item.content
    declared = item.format.lower()
    if declared == "mol2" or (not declared and "@<TRIPOS>" in text):
        points = _mol2_points(text, index, item.slot_id)
    elif declared in _SDF_FORMATS or (not declared and "M  END" in text):
        points = _sdf_points(text, index, item.slot_id)
    else:
        errors = ErrorList(index=index, slot=item.slot_id)
        check_pdb_text(text, errors)
        errors.raise_if_any()
        points = [atom.position for atom in pdb_atoms(text)]
    if not points:
        fail("the reference ligand has no atoms", index=index, slot=item.slot_id)
    return points


def _mol2_points(text: str, index: int, slot: str) -> list[Point]:
    points: list[Point] = []
    in_atoms = False
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if stripped.startswith("@<TRIPOS>"):
            if in_atoms or (points and stripped == "@<TRIPOS>MOLECULE"):
                break
            in_atoms = stripped == "@<TRIPOS>ATOM"
            continue
        if not in_atoms or not stripped:
            continue
        fields = stripped.split()
        try:
            x, y, z = (float(v) for v in fields[2:5])
        except ValueError:
            x = y = z = math.nan
        if len(fields) < 6 or not all(math.isfinite(v) for v in (x, y, z)):
            fail(
                f"line {number}: a mol2 atom line needs id, name, x, y, z and type; "
                f"got {stripped!r}",
                index=index,
                slot=slot,
                line=number,
            )
        points.append((x, y, z))
    if not points and "@<TRIPOS>ATOM" not in text:
        fail("the mol2 file has no @<TRIPOS>ATOM section", index=index, slot=slot)
    return points


def _sdf_points(text: str, index: int, slot: str) -> list[Point]:
    records = split_sdf(text)
    if not records:
        fail("the reference ligand's SD file is empty", index=index, slot=slot)
    errors = ErrorList(index=index, slot=slot)
    if not check_v2000(records[0], errors):
        errors.raise_if_any()
    with rdkit_log():
        mol = Chem.MolFromMolBlock(records[0].block(), sanitize=False, removeHs=False)
    if mol is None or not mol.GetNumConformers():
        fail(f"{records[0].place}: RDKit cannot read the molecule", index=index, slot=slot)
    return [(float(x), float(y), float(z)) for x, y, z in mol.GetConformer().GetPositions()]


def residue_points(atoms: Sequence[PdbAtom], residues: Iterable[str]) -> list[Point]:
    """The positions of the named residues' atoms; an unknown residue is an error
    naming it and what the receptor has instead."""
    wanted = [_normalise_residue(r) for r in residues]
    by_residue: dict[str, list[Point]] = {}
    for atom in atoms:
        by_residue.setdefault(atom.residue, []).append(atom.position)
    missing = [r for r in wanted if r not in by_residue]
    if missing:
        chains = sorted({atom.chain or "(blank)" for atom in atoms})
        _settings_error(
            f"box_residues: the receptor has no residue {', '.join(missing)} (residues are "
            f"named chain:number, e.g. {atoms[0].residue}; chains here: {', '.join(chains)})",
            "settings.box_residues",
        )
    return [point for r in wanted for point in by_residue[r]]


def _normalise_residue(residue: str) -> str:
    chain, _, rest = residue.strip().partition(":")
    digits = rest.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    return f"{chain}:{int(digits)}{rest[len(digits) :]}"


def _settings_error(message: str, field: str) -> None:
    raise ValidationError(message, errors=[{"field": field, "message": message}])


def _point(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def _extent(atoms: Sequence[PdbAtom]) -> str:
    spans = []
    for axis, name in enumerate("xyz"):
        low = min(a.position[axis] for a in atoms)
        high = max(a.position[axis] for a in atoms)
        spans.append(f"{name} {low:.1f} to {high:.1f}")
    return ", ".join(spans) + " Å"


__all__ = [
    "AutodockVina",
    "Box",
    "DockingResult",
    "Ligand",
    "Pose",
    "PreparationError",
    "ReceptorOptions",
    "VinaSettings",
    "cached_receptor",
    "complex_pdb",
    "dock",
    "pose_molecules",
    "poses_sdf",
    "prepare_ligand",
    "prepare_receptor",
    "read_ligands",
    "receptor_cache_key",
]
