"""The Boltz-2 tool: its slots, checks, price and the run of ``boltz predict``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pydantic

from ...jobs.errors import ValidationError
from ...jobs.model import Estimate, EstimateLine, JobInput, JsonDict, ResultFile, ToolResult
from ...jobs.provenance import ModelWeights
from ..base import InputSlot, OutputField, RunContext, Tool
from ..parsing import (
    check_size,
    file_stem,
    only_item,
    settings_as,
)
from ..prediction import (
    PROTEIN_ALPHABET,
    PROTEIN_LETTERS,
    Ligand,
    PredictionFailed,
    check_complex_size,
    check_smiles,
    msa_server_url,
    parse_batch_lines,
    prediction_result,
    publish,
    publish_models,
    residue_blocks,
    run_program,
    tail_message,
)
from ..sequence import parse_fasta
from ..weights import listing_fingerprint
from .inputs import (
    BoltzComplex,
    boltz_yaml,
    parse_ligand_lines,
)
from .outputs import (
    BoltzProgress,
    read_boltz_affinity,
    read_boltz_models,
)
from .settings import (
    AFFINITY_CREDITS,
    AFFINITY_WEIGHTS,
    BOLTZ,
    INPUT_STEM,
    LIGAND_CREDITS,
    LIGANDS,
    MAX_AFFINITY_HEAVY_ATOMS,
    MAX_LIGANDS,
    MOLECULES_DIR,
    OUT_DIR,
    PROTEINS,
    RESIDUE_BLOCK_CREDITS,
    RUN_CREDITS,
    STRUCTURE_WEIGHTS,
    Boltz2Settings,
    boltz_cache,
)


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
