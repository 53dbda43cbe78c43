"""Docking with Vina's Python API, and its poses written back: as SD records with
their affinities, and as a receptor-ligand complex in PDB."""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rdkit import Chem

from ..parsing import split_lines
from ..warm_host import HostScope, run_warm
from .box import Box
from .settings import VinaSettings

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


def vina_cpus(budget: int | None, settings: VinaSettings) -> int:
    """The threads Vina docks with: the job's thread budget (where there is one,
    else the CPUs this process may use), at most one per Monte Carlo run."""
    return max(1, min(budget or available_cpus(), settings.exhaustiveness))


def dock(
    receptor_pdbqt: str | os.PathLike[str],
    ligand_pdbqts: Sequence[str],
    box: Box,
    settings: VinaSettings | None = None,
    *,
    cpu: int | None = None,
    host: HostScope | None = None,
) -> DockingResult:
    """Dock prepared ligands into a prepared receptor with Vina's Python API.

    ``receptor_pdbqt`` is PDBQT text, or a path to a ``.pdbqt`` file (Vina reads the
    receptor only from a file). Several ligands are docked together, as Vina's
    ``set_ligand_from_string`` takes them. Vina is asked for ``num_poses`` poses
    within ``energy_range``, as its command line does. With a ``host`` scope (a job's
    process), the docking runs in that scope's warm host (``warm_host``)."""
    options = settings or VinaSettings()
    if not ligand_pdbqts:
        raise ValueError("dock needs at least one ligand")
    import vina  # type: ignore[import-untyped, unused-ignore]  # noqa: F401  (once, here)

    # Text is written to a file for Vina; a path is read as it is.
    text = receptor_pdbqt if isinstance(receptor_pdbqt, str) else None
    path = None if isinstance(receptor_pdbqt, str) else os.fspath(receptor_pdbqt)
    # Apart, or in a warm host: Vina holds the interpreter's lock for the whole
    # docking, and a crash of its C++ code ends the docking's process, not the caller's.
    return run_warm(host, "docking", _dock, text, path, list(ligand_pdbqts), box, options, cpu)


def _dock(
    receptor_text: str | None,
    receptor_file: str | None,
    ligands: list[str],
    box: Box,
    options: VinaSettings,
    cpu: int | None,
) -> DockingResult:
    from vina import Vina  # type: ignore[import-untyped, unused-ignore]

    with tempfile.TemporaryDirectory(prefix="piq-vina-") as scratch:
        if receptor_text is not None:
            receptor_path = Path(scratch) / "receptor.pdbqt"
            receptor_path.write_text(receptor_text, encoding="utf-8")
        else:
            receptor_path = Path(str(receptor_file))
        vina = Vina(
            sf_name=options.scoring,
            cpu=cpu if cpu is not None else vina_cpus(None, options),
            seed=options.seed,
            verbosity=0,
        )
        vina.set_receptor(str(receptor_path))
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
