"""The AutoDock Vina tool: its slots, outputs, limits and price, the checks at
submit, one batch job per ligand, the fork server's warm-up, and the run."""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import pydantic

from ...jobs.errors import ValidationError
from ...jobs.model import Estimate, EstimateLine, JobInput, JsonDict, ResultFile, ToolResult
from ..base import InputSlot, OutputField, RunContext, Tool
from ..parsing import only_item, settings_as, summary_fields
from ..structure_input import read_structure_input
from ..warm_host import idle_seconds
from .box import Box, docking_box
from .docking import complex_pdb, dock, pose_molecules, poses_sdf, vina_cpus
from .ligands import Ligand, check_ligands, prepare_ligand, read_ligands
from .preparation import (
    RECEPTOR_CACHE,
    ReceptorOptions,
    _residue_templates_pickled,
    cached_receptor,
    warm_up_repair,
)
from .receptor import PdbAtom, check_receptor, pdb_atoms, receptor_format, structure_atoms
from .repair import RepairReport
from .settings import (
    LIGANDS_SLOT,
    MAX_BOX_SIDE,
    RECEPTOR_SLOT,
    REFERENCE_SLOT,
    SDF_FORMATS,
    SMILES_FORMATS,
    PreparationError,
    VinaSettings,
    settings_error,
)

INSTALL_HINT = "pip install 'proteiniq-jupyter[docking]'"
#: The ligand a worker's fork server prepares once (``warm_up``): tyrosine, small,
#: with an amine, an acid, an aromatic ring and a hydroxyl to type.
WARM_UP_SMILES = "NC(Cc1ccc(O)cc1)C(=O)O"
CREDITS_PER_LIGAND = 2
REFERENCE_EXHAUSTIVENESS = 8


@dataclass(frozen=True)
class _Request:
    receptor: JobInput
    ligands: list[Ligand]
    box: Box
    box_source: str


class AutodockVina(Tool):
    """Dock small molecules into a protein with AutoDock Vina."""

    id = "autodock-vina"
    libraries = ("vina", "meeko", "rdkit", "gemmi", "numpy", "scipy", "pdbfixer", "openmm")
    name = "AutoDock Vina"
    description = (
        "Dock ligands (SMILES or SDF) into a receptor (PDB or mmCIF) with AutoDock Vina 1.2. "
        "The receptor is completed by PDBFixer (missing side-chain atoms, hydrogens at a "
        "chosen pH), receptor and ligands are prepared with meeko; the box comes from "
        "coordinates, a reference ligand or receptor residues. Poses come back as SDF "
        "with affinities, with the prepared receptor and a receptor-ligand complex."
    )
    category = "docking"
    subcategory = "small molecule"
    tags = ("docking", "vina", "autodock", "ligand", "receptor", "meeko", "pose")
    gpu = False
    preload = ("rdkit.Chem.AllChem", "scipy.spatial", "meeko", "vina", "pdbfixer")
    # A docking job fills Vina's grid maps in a fresh process: with huge pages, the
    # kernel's clearing of them took 0.8 s of system time against 0.15 s without (on
    # 3.2 s of user time, the same either way), which made a job 15-20% slower
    # than the same docking called directly.
    huge_pages = False
    time_limit_s = 3600.0
    slots = (
        InputSlot(
            id=RECEPTOR_SLOT,
            kind="structure",
            formats=("pdb", "ent", "mmcif", "cif", "pdbqt"),
            label="Receptor",
            description="The protein in PDB or mmCIF format, as the PDB or a tutorial "
            "gives it: completed and given hydrogens by PDBFixer, then prepared with "
            "meeko; a PDBQT file is taken as already prepared.",
        ),
        InputSlot(
            id=LIGANDS_SLOT,
            kind="ligand",
            formats=(*SMILES_FORMATS, *SDF_FORMATS),
            label="Ligands",
            description="One SMILES per line (optionally a space and a name), or SD "
            "records. One ligand per job; several as a batch, or docked together in "
            "simultaneous mode.",
        ),
        InputSlot(
            id=REFERENCE_SLOT,
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
        OutputField("residues_repaired", "receptor residues completed by PDBFixer"),
        OutputField("residues_replaced", "modified residues replaced by their standard one"),
        OutputField("residues_left_out", "receptor residues left out (waters, ligands, ...)"),
        OutputField("receptor_repairs", "each repaired, replaced or left-out residue"),
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
        index, receptor = only_item(inputs, RECEPTOR_SLOT)
        if checked:
            atoms: Sequence[PdbAtom] = []
            if options.box_residues:
                atoms = self._atoms(receptor, index)
        else:
            atoms = check_receptor(receptor, index, options, self.limits)
        ligands = check_ligands(inputs, options, self.limits, batch=batch)
        references = self.slot_items(inputs, REFERENCE_SLOT)
        box, source = docking_box(references, options, atoms, checked=checked)
        return _Request(receptor, ligands, box, source)

    def _atoms(self, receptor: JobInput, index: int) -> Sequence[PdbAtom]:
        if receptor_format(receptor) != "mmcif":
            return pdb_atoms(receptor.content)
        source = read_structure_input(receptor, index, self.limits["max_receptor_atoms"])
        return structure_atoms(source)

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._read(inputs, settings_as(settings, VinaSettings))

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        options = settings_as(settings, VinaSettings)
        index, item = only_item(inputs, LIGANDS_SLOT)
        count = len(read_ligands(item, index))
        return Estimate((estimate_line(count, options.exhaustiveness),))

    @classmethod
    def warm_up(cls) -> None:
        """RDKit's embedding, meeko's ligand typing and its residue templates, and
        the reading of poses back, each once: in a fresh process their first use
        costs more than paracetamol's whole preparation."""
        pose_molecules(prepare_ligand(WARM_UP_SMILES, name="warm-up"), ["warm-up"])
        _residue_templates_pickled()
        warm_up_repair()

    def missing_requirements(self) -> str | None:
        try:
            idle_seconds()  # the worker's setting for its warm docking host
        except ValueError as exc:
            return str(exc)
        missing = []
        for module in ("vina", "meeko", "scipy", "pdbfixer", "openmm"):
            try:
                importlib.import_module(module)
            except ImportError as exc:
                missing.append(f"{module} ({exc})")
        if not missing:
            return None
        return (
            "AutoDock Vina needs the vina, meeko and pdbfixer packages; missing: "
            f"{'; '.join(missing)}. Install them with: {INSTALL_HINT}"
        )

    def batch_items(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel
    ) -> list[list[JobInput]]:
        """One job per ligand, each with the receptor and any reference ligand."""
        options = settings_as(settings, VinaSettings)
        if options.mode != "single":
            settings_error(
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
                    if item.slot_id == LIGANDS_SLOT
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
        report = RepairReport()
        if receptor_format(request.receptor) == "pdbqt":
            cached = False
            receptor_text = request.receptor.content
        else:
            context.progress(0.1, "preparing the receptor")
            try:
                prepared = cached_receptor(
                    request.receptor.content,
                    context.cache(RECEPTOR_CACHE),
                    ReceptorOptions.of(options),
                )
            except PreparationError as exc:
                raise ValidationError(f"the receptor could not be prepared: {exc}") from None
            cached, report = prepared.cached, prepared.report
            receptor_text = prepared.path.read_text(encoding="utf-8")
        files.append(context.write_file("receptor.pdbqt", receptor_text, "pdbqt"))
        context.progress(0.3, f"receptor {'from the cache' if cached else 'ready'}")
        cpu = vina_cpus(context.threads, options)
        # Vina's docking says nothing until it ends: the engine estimates it.
        with context.estimated_phase(
            0.3,
            0.9,
            f"docking with exhaustiveness {options.exhaustiveness}",
            typical_s=typical_docking_s(len(ligand_pdbqts), request.box, options, cpu),
        ):
            result = dock(
                context.workdir / "receptor.pdbqt",
                ligand_pdbqts,
                request.box,
                options,
                cpu=cpu,
                host=context.host_scope,
            )
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
            "residues_repaired": len(report.repaired),
            "residues_replaced": len(report.replaced),
            "residues_left_out": len(report.left_out),
            "receptor_repairs": "; ".join(report.repaired + report.replaced + report.left_out),
            "box_source": request.box_source,
            **request.box.to_fields(),
            "exhaustiveness": options.exhaustiveness,
            "scoring": options.scoring,
            "seed": result.seed,
        }
        context.progress(1.0, "done")
        return ToolResult(fields=summary_fields(summary, rows), rows=rows, files=files)


def typical_docking_s(ligands: int, box: Box, options: VinaSettings, cpus: int) -> float:
    """A first guess at a docking's length before any has run here: about a second
    per Monte Carlo run of a small ligand in a 20 Å box on one core, longer in a
    larger box and for ligands docked together, shared among the cores Vina uses."""
    volume = box.size[0] * box.size[1] * box.size[2]
    runs = options.exhaustiveness / cpus
    return max(1.0, runs * ligands * math.sqrt(max(1.0, volume / 20.0**3)))


def estimate_line(ligands: int, exhaustiveness: int) -> EstimateLine:
    """Credits for ``ligands`` docked at ``exhaustiveness``: Vina's time grows about
    linearly with it, so the price does too; never free."""
    unit = max(1, math.ceil(CREDITS_PER_LIGAND * exhaustiveness / REFERENCE_EXHAUSTIVENESS))
    return EstimateLine(
        f"ligands docked at exhaustiveness {exhaustiveness}", ligands, unit, unit * ligands
    )
