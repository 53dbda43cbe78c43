"""The ligands: SMILES lines or SD records read and checked for what Vina can dock,
and each prepared by meeko as PDBQT from 3D coordinates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rdkit import Chem

from ...jobs.model import JobInput, JsonDict
from ..molecule import SmilesToSdfSettings, embed_molecule, parse_sdf, parse_smiles_lines, rdkit_log
from ..parsing import ErrorList, check_size, fail, only_item
from .settings import LIGANDS_SLOT, SDF_FORMATS, SMILES_FORMATS, PreparationError, VinaSettings

#: Seed of the ETKDG embedding of SMILES ligands, so a ligand starts from the same
#: conformer in every job (Vina's own seed is a setting).
EMBED_SEED = 42
#: Elements Vina has atom types for in a ligand (boron, selenium and metals have none).
LIGAND_ELEMENTS = ("H", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I", "Si")


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
    if declared in SDF_FORMATS:
        return "sdf"
    if declared in SMILES_FORMATS:
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


def check_ligands(
    inputs: Sequence[JobInput], options: VinaSettings, limits: JsonDict, *, batch: bool = False
) -> list[Ligand]:
    """The ligands of the input, as many as the mode (or a batch) takes."""
    index, item = only_item(inputs, LIGANDS_SLOT)
    check_size(item, index, limits["max_ligand_bytes"])
    ligands = read_ligands(item, index, max_heavy_atoms=limits["max_ligand_heavy_atoms"])
    count = len(ligands)
    limit = int(limits["max_batch_items" if batch else "max_ligands"])
    message = None
    if batch and count > limit:
        message = f"a batch docks at most {limit} ligands (one job each); the input has {count}"
    elif not batch and options.mode == "single" and count != 1:
        message = (
            f"mode 'single' docks one ligand, but the input has {count}: submit them "
            "as a batch (one job per ligand) or set mode to 'simultaneous'"
        )
    elif not batch and options.mode == "simultaneous" and not 2 <= count <= limit:
        message = f"mode 'simultaneous' docks 2 to {limit} ligands together; the input has {count}"
    if message is not None:
        fail(message, index=index, slot=LIGANDS_SLOT)
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
