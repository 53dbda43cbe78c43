"""Boltz-2: structures of protein complexes with small molecules, and binding affinity.

The adapter writes Boltz's YAML input, runs the installed ``boltz predict`` in the
job's folder and reads its output layout::

    <out_dir>/boltz_results_<input stem>/predictions/<input stem>/
        <input stem>_model_<k>.cif            k = 0 is the best-ranked sample
        confidence_<input stem>_model_<k>.json   confidence_score, ptm, iptm, ... on 0-1
        plddt_/pae_/pde_<input stem>_model_<k>.npz
        affinity_<input stem>.json           when the affinity was asked for

pLDDT is reported on 0-100 like AlphaFold's; the files are moved to the top of the job
folder as ``<name>_rank_<k>...``.

MSAs: by default every protein runs in single-sequence mode (``msa: empty``), because
many GPU workers have no internet; ``use_msa_server`` asks a ColabFold MMseqs2 server
instead (``PIQ_MSA_SERVER_URL`` for a self-hosted one), which is more accurate.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pydantic

from ..jobs.errors import ValidationError
from ..jobs.model import Estimate, EstimateLine, JobInput, JsonDict, ResultFile, ToolResult
from ..jobs.provenance import ModelWeights
from .base import InputSlot, OutputField, RunContext, Tool
from .parsing import (
    ErrorList,
    check_size,
    entry_lines,
    file_stem,
    only_item,
    settings_as,
)
from .prediction import (
    LIGAND_KEYS,
    PROTEIN_ALPHABET,
    PROTEIN_LETTERS,
    Ligand,
    PredictionFailed,
    Program,
    RankedModel,
    as_percent,
    check_complex_size,
    check_ligand,
    check_smiles,
    configured_dir,
    json_number,
    mean,
    msa_server_url,
    parse_batch_lines,
    prediction_result,
    publish,
    publish_models,
    read_json,
    residue_blocks,
    residue_plddt,
    run_program,
    tail_message,
)
from .sequence import parse_fasta
from .weights import listing_fingerprint

PROTEINS = "proteins"
LIGANDS = "ligands"
BOLTZ = Program(
    name="boltz",
    env_var="PIQ_BOLTZ_BIN",
    distribution="boltz",
    install_hint="install Boltz-2 on the GPU worker with `pip install boltz` (it puts `boltz` "
    "on PATH)",
)
CACHE_ENV_VARS = ("PIQ_BOLTZ_CACHE", "BOLTZ_CACHE")
DEFAULT_CACHE = Path("~/.boltz").expanduser()
#: What ``boltz predict`` would otherwise download into its cache on first use.
STRUCTURE_WEIGHTS = "boltz2_conf.ckpt"
AFFINITY_WEIGHTS = "boltz2_aff.ckpt"
MOLECULES_DIR = "mols"
#: Boltz names its results after the input file's stem; a fixed one keeps them found.
INPUT_STEM = "input"
OUT_DIR = "boltz_out"
MAX_LIGANDS = 5
#: Boltz's own limit for the affinity ligand (heavy atoms, as RDKit's RemoveHs keeps).
MAX_AFFINITY_HEAVY_ATOMS = 128

RUN_CREDITS = 5
RESIDUE_BLOCK_CREDITS = 2
LIGAND_CREDITS = 1
AFFINITY_CREDITS = 10


def boltz_cache() -> tuple[Path, str]:
    """Where the Boltz-2 weights and molecule data are, and where that was set."""
    return configured_dir(CACHE_ENV_VARS, DEFAULT_CACHE)


class Boltz2Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    diffusion_samples: int = pydantic.Field(
        1, ge=1, le=5, description="structures sampled and ranked by confidence; each is charged"
    )
    recycling_steps: int = pydantic.Field(
        3, ge=1, le=10, description="trunk recycling steps (AlphaFold 3 uses 10)"
    )
    sampling_steps: int = pydantic.Field(
        200, ge=10, le=500, description="diffusion steps per sample"
    )
    use_msa_server: bool = pydantic.Field(
        False,
        description=(
            "build MSAs on a ColabFold MMseqs2 server (the GPU worker needs to reach it; "
            "PIQ_MSA_SERVER_URL names a self-hosted one). Off: single-sequence mode, which "
            "works offline but is less accurate"
        ),
    )
    use_potentials: bool = pydantic.Field(
        False, description="inference-time potentials for more physical poses (slower)"
    )
    affinity: bool = pydantic.Field(
        False, description="also predict the binding affinity of one ligand to the proteins"
    )
    affinity_ligand: int = pydantic.Field(
        1,
        ge=1,
        le=MAX_LIGANDS,
        description="which ligand the affinity is for: 1 is the first of the ligands input",
    )
    seed: int = pydantic.Field(
        0, ge=0, le=2**31 - 1, description="random seed; the same seed repeats a run"
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


_BAR = re.compile(r"(\d+)%\|")


class BoltzProgress:
    """Boltz prints its phases (checking and processing the input, MSAs, structure
    prediction, affinity prediction), each prediction with a Lightning progress bar
    ("Predicting DataLoader 0:  40%|..."); the structure is most of the run."""

    def __init__(self, affinity: bool) -> None:
        self.structure_end = 0.8 if affinity else 1.0
        self.phase = "input"

    def __call__(self, line: str) -> tuple[float, str] | None:
        lower = line.lower()
        bar = _BAR.search(line)
        if bar is not None:
            share = int(bar.group(1)) / 100
            if self.phase == "affinity":
                fraction = self.structure_end + (1.0 - self.structure_end) * share
                return fraction, f"predicting the binding affinity: {bar.group(1)}%"
            return 0.1 + (self.structure_end - 0.1) * share, (
                f"predicting the structure: {bar.group(1)}%"
            )
        if "affinity" in lower and ("running" in lower or "predict" in lower):
            self.phase = "affinity"
            return self.structure_end, "predicting the binding affinity"
        if "structure prediction" in lower:
            self.phase = "structure"
            return 0.1, "predicting the structure"
        if "msa" in lower and self.phase == "input":
            return 0.05, "building the MSAs"
        if "checking input" in lower or "processing" in lower:
            return 0.02, "preparing the input"
        return None


def read_boltz_models(
    predictions: Path, name: str, *, proteins: int, ligands: int
) -> list[RankedModel]:
    """The models in Boltz's predictions folder, best first (Boltz numbers them by
    confidence), with confidences normalised: pLDDT to 0-100, and an interface score
    None where the complex has no such interface (Boltz writes 0 there). Without a
    confidence file the pLDDT comes from the structure's B-factors."""
    multichain = proteins + ligands > 1
    pattern = re.compile(rf"{re.escape(name)}_model_(\d+)\.(cif|pdb)")
    found: list[tuple[int, Path]] = []
    if predictions.is_dir():
        for path in predictions.iterdir():
            match = pattern.fullmatch(path.name)
            if match:
                found.append((int(match.group(1)), path))
    models: list[RankedModel] = []
    for rank, (k, structure) in enumerate(sorted(found), start=1):
        confidence_path = predictions / f"confidence_{name}_model_{k}.json"
        confidence = read_json(confidence_path) if confidence_path.is_file() else {}
        plddt = as_percent(json_number(confidence, "complex_plddt"))
        if plddt is None:
            plddt = mean(residue_plddt(structure))

        def interface(
            key: str, present: bool = multichain, data: JsonDict = confidence
        ) -> float | None:
            return json_number(data, key) if present else None

        extra: JsonDict = {
            "ligand_iptm": interface("ligand_iptm", ligands > 0 and proteins > 0),
            "protein_iptm": interface("protein_iptm", proteins > 1),
            "complex_iplddt": as_percent(json_number(confidence, "complex_iplddt")),
            "complex_pde": json_number(confidence, "complex_pde"),
            "complex_ipde": interface("complex_ipde"),
        }
        attachments = [
            (predictions / f"{kind}_{name}_model_{k}.npz", f"{kind}.npz", "npz")
            for kind in ("plddt", "pae", "pde")
        ]
        attachments.insert(0, (confidence_path, "confidence.json", "json"))
        models.append(
            RankedModel(
                rank=rank,
                model=f"model_{k}",
                structure=structure,
                plddt=plddt,
                ptm=json_number(confidence, "ptm"),
                iptm=interface("iptm"),
                ranking_score=json_number(confidence, "confidence_score"),
                extra=extra,
                attachments=[a for a in attachments if a[0].is_file()],
            )
        )
    return models


def read_boltz_affinity(predictions: Path, name: str) -> JsonDict | None:
    """The affinity fields: log10(IC50 in µM), the IC50 itself and the probability
    that the ligand binds; None when Boltz wrote no affinity file."""
    path = predictions / f"affinity_{name}.json"
    if not path.is_file():
        return None
    data = read_json(path)
    value = json_number(data, "affinity_pred_value")
    return {
        "affinity_pred_value": None if value is None else round(value, 4),
        "affinity_ic50_um": None if value is None else float(f"{10.0**value:.4g}"),
        "affinity_probability_binary": json_number(data, "affinity_probability_binary"),
    }


class Boltz2(Tool):
    """Boltz-2 structure and affinity prediction, run by the installed ``boltz``."""

    id = "boltz-2"
    libraries = ("gemmi", "rdkit")
    programs = (BOLTZ,)
    name = "Boltz-2"
    description = (
        "Predict the structure of a protein or protein complex, with small-molecule "
        "ligands given by SMILES or CCD code, and optionally the binding affinity of one "
        "ligand. Reports pLDDT, pTM and ipTM per sampled model."
    )
    category = "structure"
    subcategory = "prediction"
    tags = ("protein", "complex", "ligand", "affinity", "structure prediction", "boltz", "gpu")
    gpu = True
    time_limit_s = 3600.0
    slots = (
        InputSlot(
            id=PROTEINS,
            kind="protein",
            formats=("fasta", "text"),
            label="Protein chains",
            description=(
                "FASTA: each record is one chain of the complex (A, B, ... in order). As a "
                "batch input, one complex per line: [NAME] CHAIN[:CHAIN...] "
                "[smiles=SMILES] [ccd=CODE]."
            ),
        ),
        InputSlot(
            id=LIGANDS,
            kind="ligand",
            formats=("smiles", "text"),
            label="Ligands",
            description=(
                "Optional. One per line: a SMILES, smiles=SMILES or ccd=CODE (a PDB "
                "Chemical Component, e.g. ccd=SAH), optionally followed by a name."
            ),
            required=False,
        ),
    )
    outputs = (
        OutputField("chains", "protein chains in the complex"),
        OutputField("residues", "residues over all protein chains", "residues"),
        OutputField("ligands", "ligands in the complex"),
        OutputField("models", "models predicted (diffusion samples)"),
        OutputField("rank", "1 is the model Boltz ranks best"),
        OutputField("model", "Boltz's name of the model (model_0 is the best)"),
        OutputField("mean_plddt", "mean pLDDT of the complex (complex_plddt x 100)", "0-100"),
        OutputField("ptm", "predicted TM-score of the complex", "0-1"),
        OutputField("iptm", "interface pTM (None for a single chain)", "0-1"),
        OutputField("ranking_score", "Boltz's confidence_score: 0.8 pLDDT + 0.2 ipTM", "0-1"),
        OutputField("ligand_iptm", "ipTM over protein-ligand interfaces", "0-1"),
        OutputField("protein_iptm", "ipTM over protein-protein interfaces", "0-1"),
        OutputField("complex_iplddt", "pLDDT with interface residues weighted up", "0-100"),
        OutputField("complex_pde", "mean predicted distance error", "Å"),
        OutputField("complex_ipde", "predicted distance error at interfaces", "Å"),
        OutputField("structure", "the model's structure file (mmCIF)"),
        OutputField("best_structure", "the top-ranked model's structure file"),
        OutputField("affinity_ligand", "the ligand the affinity is for"),
        OutputField("affinity_pred_value", "predicted log10(IC50 / µM); lower binds tighter"),
        OutputField("affinity_ic50_um", "predicted IC50", "µM"),
        OutputField("affinity_probability_binary", "predicted probability that it binds", "0-1"),
    )
    settings_model = Boltz2Settings
    limits: ClassVar[JsonDict] = {
        "max_file_bytes": 1_000_000,
        "max_chains": 10,
        "max_residues": 2500,
        "max_ligands": MAX_LIGANDS,
        "max_ligand_heavy_atoms": 200,
        "max_affinity_ligand_heavy_atoms": MAX_AFFINITY_HEAVY_ATOMS,
        "max_batch_items": 50,
    }
    credit_description = (
        f"{RUN_CREDITS} credits per run, plus {RESIDUE_BLOCK_CREDITS} per started 10 residues "
        f"and {LIGAND_CREDITS} per ligand for each diffusion sample, plus {AFFINITY_CREDITS} "
        "for the binding affinity"
    )
    credit_rates: ClassVar[JsonDict] = {
        "per_run": RUN_CREDITS,
        "per_10_residues_per_sample": RESIDUE_BLOCK_CREDITS,
        "per_ligand_per_sample": LIGAND_CREDITS,
        "affinity": AFFINITY_CREDITS,
    }

    # -- input ----------------------------------------------------------------

    def _complex(self, inputs: Sequence[JobInput], options: Boltz2Settings) -> BoltzComplex:
        index, item = only_item(inputs, PROTEINS)
        check_size(item, index, self.limits["max_file_bytes"])
        records = parse_fasta(
            item.content,
            alphabet=PROTEIN_ALPHABET,
            allowed=f"{PROTEIN_LETTERS}; give each chain as its own FASTA record",
            index=index,
            slot=PROTEINS,
            max_records=self.limits["max_chains"],
        )
        ligands: list[Ligand] = []
        for lig_index, lig_item in self.slot_items(inputs, LIGANDS):
            check_size(lig_item, lig_index, self.limits["max_file_bytes"])
            ligands = parse_ligand_lines(
                lig_item.content,
                index=lig_index,
                slot=LIGANDS,
                max_ligands=self.limits["max_ligands"],
                max_heavy_atoms=self.limits["max_ligand_heavy_atoms"],
            )
        chains = tuple((r.name, r.sequence) for r in records)
        check_complex_size(
            [seq for _, seq in chains], ligands, self.limits, index=index, slot=PROTEINS
        )
        job = BoltzComplex(file_stem(item, "boltz"), chains, tuple(ligands))
        if options.affinity:
            self._check_affinity(job, options)
        return job

    def _check_affinity(self, job: BoltzComplex, options: Boltz2Settings) -> None:
        """Boltz predicts the affinity of one ligand, of at most 128 heavy atoms."""
        problem: tuple[str, str] | None = None
        if not job.ligands:
            problem = ("settings.affinity", "the affinity needs a ligand; add one to the ligands")
        elif options.affinity_ligand > len(job.ligands):
            problem = (
                "settings.affinity_ligand",
                f"settings.affinity_ligand is {options.affinity_ligand} but the input has "
                f"{len(job.ligands)} ligand(s)",
            )
        else:
            ligand = job.ligands[options.affinity_ligand - 1]
            if ligand.kind == "smiles":
                _, heavy = check_smiles(ligand.value)
                if heavy > MAX_AFFINITY_HEAVY_ATOMS:
                    problem = (
                        "settings.affinity_ligand",
                        f"ligand {options.affinity_ligand} ({ligand.name!r}) has {heavy} "
                        f"heavy atoms; Boltz predicts affinities for at most "
                        f"{MAX_AFFINITY_HEAVY_ATOMS}",
                    )
        if problem is not None:
            where, message = problem
            raise ValidationError(message, errors=[{"field": where, "message": message}])

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._complex(inputs, settings_as(settings, Boltz2Settings))

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        options = settings_as(settings, Boltz2Settings)
        job = self._complex(inputs, options)
        samples = options.diffusion_samples
        blocks = residue_blocks(job.residues)
        lines = [
            EstimateLine("GPU run", 1, RUN_CREDITS, RUN_CREDITS),
            EstimateLine(
                "residues (per started 10) x diffusion samples",
                blocks * samples,
                RESIDUE_BLOCK_CREDITS,
                blocks * samples * RESIDUE_BLOCK_CREDITS,
            ),
        ]
        if job.ligands:
            n = len(job.ligands) * samples
            lines.append(
                EstimateLine("ligands x diffusion samples", n, LIGAND_CREDITS, n * LIGAND_CREDITS)
            )
        if options.affinity:
            lines.append(EstimateLine("binding affinity", 1, AFFINITY_CREDITS, AFFINITY_CREDITS))
        return Estimate(tuple(lines))

    def batch_items(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel
    ) -> list[list[JobInput]]:
        """One job per line of the proteins input (``[NAME] CHAIN[:CHAIN...]
        [smiles=SMILES] [ccd=CODE]``); ligands given in the ligands input are added to
        every line's own."""
        index, item = only_item(inputs, PROTEINS)
        check_size(item, index, self.limits["max_file_bytes"])
        shared: list[Ligand] = []
        for lig_index, lig_item in self.slot_items(inputs, LIGANDS):
            shared = parse_ligand_lines(
                lig_item.content,
                index=lig_index,
                slot=LIGANDS,
                max_ligands=self.limits["max_ligands"],
                max_heavy_atoms=self.limits["max_ligand_heavy_atoms"],
            )
        lines = parse_batch_lines(
            item.content,
            tool_name=self.name,
            index=index,
            slot=PROTEINS,
            ligands_allowed=True,
            limits=self.limits,
        )
        base = item.id or PROTEINS
        children: list[list[JobInput]] = []
        for line in lines:
            child = [line.protein_input(base, PROTEINS)]
            ligands = [*line.ligands, *shared]
            if ligands:
                child.append(
                    JobInput(
                        id=f"{base}_line{line.line}_{LIGANDS}",
                        slot_id=LIGANDS,
                        kind="ligand",
                        format="text",
                        content="".join(lig.as_line() + "\n" for lig in ligands),
                        label=f"{line.label} ligands",
                    )
                )
            children.append(child)
        return children

    # -- running ----------------------------------------------------------------

    def missing_requirements(self) -> str | None:
        _, why = BOLTZ.locate()
        if why is not None:
            return why
        cache, source = boltz_cache()
        missing = [
            name
            for name, present in (
                (STRUCTURE_WEIGHTS, (cache / STRUCTURE_WEIGHTS).is_file()),
                (
                    f"{MOLECULES_DIR}/ (the CCD molecules from mols.tar)",
                    (cache / MOLECULES_DIR).is_dir(),
                ),
            )
            if not present
        ]
        if not missing:
            return None
        return (
            f"the Boltz-2 weights are not in {cache} ({source}): {' and '.join(missing)} "
            "missing. Boltz downloads them into its cache on first use; on a worker without "
            "internet, run `boltz predict` once where there is internet and copy its cache "
            "folder (by default ~/.boltz) here, or set PIQ_BOLTZ_CACHE (or BOLTZ_CACHE) to "
            "the folder that holds them"
        )

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        options = settings_as(settings, Boltz2Settings)
        job = self._complex(inputs, options)
        program, why = BOLTZ.locate()
        if program is None:
            raise PredictionFailed(why)
        cache, source = boltz_cache()
        if options.affinity and not (cache / AFFINITY_WEIGHTS).is_file():
            raise PredictionFailed(
                f"the Boltz-2 affinity weights {AFFINITY_WEIGHTS} are not in {cache} "
                f"({source}); copy them there from a Boltz cache, or run without affinity"
            )
        _, ligand_ids = job.chain_ids()
        binder = ligand_ids[options.affinity_ligand - 1] if options.affinity else None
        workdir = context.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        input_path = workdir / f"{INPUT_STEM}.yaml"
        input_path.write_text(
            boltz_yaml(job, msa_empty=not options.use_msa_server, affinity_binder=binder),
            encoding="utf-8",
        )
        command = [
            program,
            "predict",
            input_path.name,
            "--out_dir",
            OUT_DIR,
            "--cache",
            str(cache),
            "--model",
            "boltz2",
            "--diffusion_samples",
            str(options.diffusion_samples),
            "--recycling_steps",
            str(options.recycling_steps),
            "--sampling_steps",
            str(options.sampling_steps),
            "--seed",
            str(options.seed),
            "--output_format",
            "mmcif",
            "--write_full_pae",
            "--override",
        ]
        if options.use_msa_server:
            command.append("--use_msa_server")
            url = msa_server_url()
            if url:
                command += ["--msa_server_url", url]
        if options.use_potentials:
            command.append("--use_potentials")
        checkpoints = [STRUCTURE_WEIGHTS, *([AFFINITY_WEIGHTS] if options.affinity else [])]
        context.loaded_weights(
            *(
                ModelWeights(name, str(cache / name), listing_fingerprint([cache / name]))
                for name in checkpoints
            )
        )
        context.progress(0.01, "starting Boltz-2")
        log = run_program(
            command,
            context,
            log_name=f"{job.stem}_boltz_log.txt",
            parse_progress=BoltzProgress(options.affinity),
            span=(0.02, 0.95),
        )
        context.progress(0.96, "reading the predictions")
        predictions = workdir / OUT_DIR / f"boltz_results_{INPUT_STEM}" / "predictions" / INPUT_STEM
        models = read_boltz_models(
            predictions, INPUT_STEM, proteins=len(job.chains), ligands=len(job.ligands)
        )
        if not models:
            raise PredictionFailed(
                f"boltz exited normally but wrote no structures to "
                f"{predictions.relative_to(workdir)}; {tail_message(log)}"
            )
        affinity: JsonDict = {}
        affinity_file: list[ResultFile] = []
        if options.affinity:
            values = read_boltz_affinity(predictions, INPUT_STEM)
            if values is None:
                raise PredictionFailed(
                    f"boltz exited normally but wrote no affinity_{INPUT_STEM}.json; "
                    f"{tail_message(log)}"
                )
            affinity = {"affinity_ligand": job.ligands[options.affinity_ligand - 1].name}
            affinity.update(values)
            affinity_file.append(
                publish(
                    context,
                    predictions / f"affinity_{INPUT_STEM}.json",
                    f"{job.stem}_affinity.json",
                    "json",
                )
            )
        rows, files = publish_models(context, models, job.stem)
        files += affinity_file
        files.append(publish(context, input_path, f"{job.stem}_input.yaml", "yaml"))
        files.append(ResultFile(name=log.name, format="text", size=log.stat().st_size))
        context.progress(1.0, "done")
        summary: JsonDict = {
            "chains": len(job.chains),
            "residues": job.residues,
            "ligands": len(job.ligands),
        }
        return prediction_result(summary, rows, files, affinity)
