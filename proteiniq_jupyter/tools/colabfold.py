"""AlphaFold-2 through ColabFold: structures of proteins and protein complexes.

The adapter writes a one-record FASTA (the chains of a complex joined by ':', as
ColabFold reads them), runs the installed ``colabfold_batch`` in the job's folder and
reads its output layout::

    <outdir>/<job>_unrelaxed_rank_00<k>_<model>_seed_000.pdb   pLDDT (0-100) in B-factors
    <outdir>/<job>_scores_rank_00<k>_<model>_seed_000.json     plddt, pae, max_pae, ptm, iptm
    <outdir>/<job>_predicted_aligned_error_v1.json             PAE of the top model
    <outdir>/<job>_plddt.png, _pae.png, _coverage.png, <job>.a3m, log.txt

Mean pLDDT is read from the structure's B-factors (one value per residue), so it is
the confidence of the file the user downloads; the files are moved to the top of the
job folder as ``<name>_rank_<k>...``.

MSAs: ``msa_mode`` is ``single_sequence`` by default, because many GPU workers have no
internet; the ``mmseqs2_*`` modes ask a ColabFold MMseqs2 server (``PIQ_MSA_SERVER_URL``
for a self-hosted one) and are much more accurate for most proteins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import platformdirs
import pydantic

from ..jobs.model import Estimate, EstimateLine, JobInput, JsonDict, ResultFile, ToolResult
from ..jobs.provenance import ModelWeights
from .base import InputSlot, OutputField, RunContext, Tool
from .parsing import check_size, file_stem, only_item, settings_as
from .prediction import (
    PROTEIN_ALPHABET,
    PROTEIN_LETTERS,
    PredictionFailed,
    Program,
    RankedModel,
    check_complex_size,
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

SEQUENCES = "sequences"
COLABFOLD = Program(
    name="colabfold_batch",
    env_var="PIQ_COLABFOLD_BIN",
    distribution="colabfold",
    install_hint=(
        'install ColabFold on the GPU worker (`pip install "colabfold[alphafold]"` with a '
        "CUDA build of JAX, or LocalColabFold)"
    ),
)
DATA_ENV_VARS = ("PIQ_COLABFOLD_DATA",)
#: Where ``colabfold_batch`` keeps its weights when not given ``--data``.
DEFAULT_DATA = Path(platformdirs.user_cache_dir("colabfold"))
MONOMER = "alphafold2_ptm"
MULTIMER = "alphafold2_multimer_v3"
#: For each model type: the marker ColabFold writes once its weights are unpacked,
#: and the weight file of model n, both under <data>/params.
WEIGHTS: dict[str, tuple[str, str]] = {
    MONOMER: ("download_finished.txt", "params_model_{n}_ptm.npz"),
    MULTIMER: ("download_complexes_multimer_v3_finished.txt", "params_model_{n}_multimer_v3.npz"),
}
INPUT_STEM = "input"
OUT_DIR = "colabfold_out"

RUN_CREDITS = 5
RESIDUE_BLOCK_CREDITS = 1


def colabfold_data() -> tuple[Path, str]:
    """Where the AlphaFold-2 weights are, and where that was set."""
    return configured_dir(DATA_ENV_VARS, DEFAULT_DATA)


def missing_weights(data: Path, model_type: str, num_models: int) -> list[str]:
    """The files under ``data`` that ``model_type`` needs and lacks, as params/... paths."""
    marker, pattern = WEIGHTS[model_type]
    needed = [marker, *(pattern.format(n=n) for n in range(1, num_models + 1))]
    return [f"params/{name}" for name in needed if not (data / "params" / name).is_file()]


class AlphaFold2Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    num_models: int = pydantic.Field(
        5, ge=1, le=5, description="AlphaFold-2 models run (1-5), ranked; each is charged"
    )
    num_recycle: int = pydantic.Field(
        3, ge=0, le=20, description="recycles per model; more can help hard targets"
    )
    msa_mode: Literal["single_sequence", "mmseqs2_uniref_env", "mmseqs2_uniref"] = pydantic.Field(
        "single_sequence",
        description=(
            "single_sequence works offline but is far less accurate for most natural "
            "proteins; mmseqs2_* build an MSA on a ColabFold MMseqs2 server, which the "
            "GPU worker must reach (PIQ_MSA_SERVER_URL names a self-hosted one)"
        ),
    )
    model_type: Literal["auto", "monomer", "multimer"] = pydantic.Field(
        "auto",
        description=(
            "auto: alphafold2_ptm for one chain, alphafold2_multimer_v3 for a complex; "
            "monomer and multimer force one of them"
        ),
    )
    seed: int = pydantic.Field(
        0, ge=0, le=2**31 - 1, description="random seed; the same seed repeats a run"
    )


def resolved_model_type(setting: str, chains: int) -> str:
    """The ColabFold model type a setting means for a complex of ``chains`` chains."""
    if setting == "monomer":
        return MONOMER
    if setting == "multimer":
        return MULTIMER
    return MULTIMER if chains > 1 else MONOMER


@dataclass(frozen=True)
class Query:
    """One job's query: its file stem and protein chains (record name, sequence)."""

    stem: str
    chains: tuple[tuple[str, str], ...]

    @property
    def residues(self) -> int:
        return sum(len(seq) for _, seq in self.chains)


_TOOK = re.compile(r"(\S+) took [\d.]+s \((\d+) recycles\)")
_RECYCLE = re.compile(r"(\S+) recycle=(\d+)")
_QUERY = re.compile(r"Query (\d+)/(\d+):")


class ColabFoldProgress:
    """ColabFold logs a line per recycle and a "<model> took 12.3s (3 recycles)" line
    per finished model; progress is the count of finished models."""

    def __init__(self, num_models: int) -> None:
        self.num_models = num_models
        self.done = 0

    def _share(self) -> float:
        return 0.1 + 0.85 * self.done / self.num_models

    def __call__(self, line: str) -> tuple[float, str] | None:
        if _TOOK.search(line):
            self.done = min(self.num_models, self.done + 1)
            return self._share(), f"model {self.done} of {self.num_models} done"
        recycle = _RECYCLE.search(line)
        if recycle is not None:
            current = min(self.num_models, self.done + 1)
            return self._share(), (
                f"model {current} of {self.num_models}: recycle {recycle.group(2)}"
            )
        if _QUERY.search(line):
            return 0.05, "preparing the query"
        if "reranking models" in line:
            return 0.97, "ranking the models"
        if "MSA" in line or "mmseqs2" in line.lower():
            return 0.02, "building the MSA"
        return None


_SCORES = re.compile(r"(?P<prefix>.+)_scores_(?P<tag>rank_(?P<rank>\d+)_(?P<model>.+))\.json")


def read_colabfold_models(outdir: Path) -> tuple[list[RankedModel], str | None]:
    """The ranked models in ColabFold's output folder, and the job prefix of its file
    names. pLDDT is the mean over residues of the structure's B-factors; the ranking
    score is ColabFold's: 0.8 ipTM + 0.2 pTM for a complex, else pLDDT / 100."""
    models: list[RankedModel] = []
    prefix: str | None = None
    paths = sorted(outdir.glob("*_scores_rank_*.json")) if outdir.is_dir() else []
    for scores_path in paths:
        match = _SCORES.fullmatch(scores_path.name)
        if match is None:
            continue
        prefix = match.group("prefix")
        candidates = [
            outdir / f"{prefix}_{kind}_{match.group('tag')}.pdb"
            for kind in ("relaxed", "unrelaxed")
        ]
        structure = next((p for p in candidates if p.is_file()), None)
        if structure is None:
            raise PredictionFailed(
                f"colabfold_batch wrote {scores_path.name} but not its structure "
                f"{candidates[-1].name}"
            )
        scores = read_json(scores_path)
        plddt = mean(residue_plddt(structure))
        ptm = json_number(scores, "ptm")
        iptm = json_number(scores, "iptm")
        if iptm is not None and ptm is not None:
            ranking: float | None = 0.8 * iptm + 0.2 * ptm
        else:
            ranking = None if plddt is None else plddt / 100.0
        models.append(
            RankedModel(
                rank=int(match.group("rank")),
                model=match.group("model"),
                structure=structure,
                plddt=plddt,
                ptm=ptm,
                iptm=iptm,
                ranking_score=ranking,
                extra={"max_pae": json_number(scores, "max_pae")},
                attachments=[(scores_path, "scores.json", "json")],
            )
        )
    models.sort(key=lambda m: m.rank)
    for rank, model in enumerate(models, start=1):
        model.rank = rank
    return models, prefix


class AlphaFold2(Tool):
    """AlphaFold-2 structure prediction, run by the installed ``colabfold_batch``."""

    id = "alphafold-2"
    libraries = ("gemmi", "rdkit")
    programs = (COLABFOLD,)
    name = "AlphaFold-2 (ColabFold)"
    description = (
        "Predict the structure of a protein, or of a protein complex from several "
        "chains, with AlphaFold-2 as ColabFold runs it. Reports pLDDT, pTM and, for "
        "complexes, ipTM per ranked model, with the PAE."
    )
    category = "structure"
    subcategory = "prediction"
    tags = ("protein", "complex", "alphafold", "colabfold", "structure prediction", "gpu")
    gpu = True
    time_limit_s = 7200.0
    slots = (
        InputSlot(
            id=SEQUENCES,
            kind="protein",
            formats=("fasta", "text"),
            label="Protein chains",
            description=(
                "FASTA or a bare sequence; several records are the chains of one complex. "
                "As a batch input, one protein or complex per line: [NAME] CHAIN[:CHAIN...]."
            ),
        ),
    )
    outputs = (
        OutputField("chains", "protein chains in the query"),
        OutputField("residues", "residues over all chains", "residues"),
        OutputField("model_type", "the AlphaFold-2 weights used"),
        OutputField("msa_mode", "how the MSA was built"),
        OutputField("models", "models predicted"),
        OutputField("rank", "1 is the model ColabFold ranks best"),
        OutputField("model", "ColabFold's name of the model"),
        OutputField("mean_plddt", "mean pLDDT over residues (from the B-factors)", "0-100"),
        OutputField("ptm", "predicted TM-score", "0-1"),
        OutputField("iptm", "interface pTM (complexes only)", "0-1"),
        OutputField(
            "ranking_score", "what ColabFold ranks by: 0.8 ipTM + 0.2 pTM, else pLDDT/100", "0-1"
        ),
        OutputField("max_pae", "largest predicted aligned error", "Å"),
        OutputField("structure", "the model's structure file (PDB)"),
        OutputField("best_structure", "the top-ranked model's structure file"),
    )
    settings_model = AlphaFold2Settings
    limits: ClassVar[JsonDict] = {
        "max_file_bytes": 1_000_000,
        "max_chains": 10,
        "max_residues": 2500,
        "max_batch_items": 50,
    }
    credit_description = (
        f"{RUN_CREDITS} credits per run, plus {RESIDUE_BLOCK_CREDITS} per started 10 residues "
        "for each model"
    )
    credit_rates: ClassVar[JsonDict] = {
        "per_run": RUN_CREDITS,
        "per_10_residues_per_model": RESIDUE_BLOCK_CREDITS,
    }

    # -- input ----------------------------------------------------------------

    def _query(self, inputs: Sequence[JobInput]) -> Query:
        index, item = only_item(inputs, SEQUENCES)
        check_size(item, index, self.limits["max_file_bytes"])
        records = parse_fasta(
            item.content,
            alphabet=PROTEIN_ALPHABET,
            allowed=f"{PROTEIN_LETTERS}; give each chain as its own FASTA record",
            index=index,
            slot=SEQUENCES,
            max_records=self.limits["max_chains"],
        )
        chains = tuple((r.name, r.sequence) for r in records)
        check_complex_size([seq for _, seq in chains], [], self.limits, index=index, slot=SEQUENCES)
        return Query(file_stem(item, "alphafold"), chains)

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._query(inputs)

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        options = settings_as(settings, AlphaFold2Settings)
        query = self._query(inputs)
        blocks = residue_blocks(query.residues) * options.num_models
        return Estimate(
            (
                EstimateLine("GPU run", 1, RUN_CREDITS, RUN_CREDITS),
                EstimateLine(
                    "residues (per started 10) x models",
                    blocks,
                    RESIDUE_BLOCK_CREDITS,
                    blocks * RESIDUE_BLOCK_CREDITS,
                ),
            )
        )

    def batch_items(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel
    ) -> list[list[JobInput]]:
        """One job per line of the input: ``[NAME] CHAIN[:CHAIN...]``."""
        index, item = only_item(inputs, SEQUENCES)
        check_size(item, index, self.limits["max_file_bytes"])
        lines = parse_batch_lines(
            item.content,
            tool_name=self.name,
            index=index,
            slot=SEQUENCES,
            ligands_allowed=False,
            limits=self.limits,
        )
        base = item.id or SEQUENCES
        return [[line.protein_input(base, SEQUENCES)] for line in lines]

    # -- running ----------------------------------------------------------------

    def missing_requirements(self) -> str | None:
        _, why = COLABFOLD.locate()
        if why is not None:
            return why
        data, source = colabfold_data()
        if any(not missing_weights(data, kind, 1) for kind in WEIGHTS):
            return None
        monomer_marker, monomer_file = WEIGHTS[MONOMER]
        multimer_marker, multimer_file = WEIGHTS[MULTIMER]
        return (
            f"the AlphaFold-2 weights are not in {data} ({source}): it needs "
            f"params/{monomer_marker} with params/{monomer_file.format(n='1..5')} (single "
            f"chains) or params/{multimer_marker} with "
            f"params/{multimer_file.format(n='1..5')} (complexes). ColabFold downloads them "
            "on first use; on a worker without internet, run `python -m colabfold.download` "
            "where there is internet and copy its data folder here, or set "
            "PIQ_COLABFOLD_DATA to the folder that holds params/"
        )

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        options = settings_as(settings, AlphaFold2Settings)
        query = self._query(inputs)
        program, why = COLABFOLD.locate()
        if program is None:
            raise PredictionFailed(why)
        data, source = colabfold_data()
        model_type = resolved_model_type(options.model_type, len(query.chains))
        lacking = missing_weights(data, model_type, options.num_models)
        if lacking:
            raise PredictionFailed(
                f"the {model_type} weights are incomplete in {data} ({source}): "
                f"{', '.join(lacking)} missing; copy them there from a ColabFold data folder "
                "or set PIQ_COLABFOLD_DATA"
            )
        workdir = context.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        input_path = workdir / f"{INPUT_STEM}.fasta"
        input_path.write_text(
            f">{INPUT_STEM}\n{':'.join(seq for _, seq in query.chains)}\n", encoding="utf-8"
        )
        command = [
            program,
            input_path.name,
            OUT_DIR,
            "--num-models",
            str(options.num_models),
            "--num-recycle",
            str(options.num_recycle),
            "--msa-mode",
            options.msa_mode,
            "--model-type",
            model_type,
            "--random-seed",
            str(options.seed),
            "--data",
            str(data),
        ]
        url = msa_server_url()
        if url and options.msa_mode != "single_sequence":
            command += ["--host-url", url]
        _, pattern = WEIGHTS[model_type]
        params = [data / "params" / pattern.format(n=n) for n in range(1, options.num_models + 1)]
        context.loaded_weights(
            ModelWeights(model_type, str(data / "params"), listing_fingerprint(params))
        )
        context.progress(0.01, "starting ColabFold")
        log = run_program(
            command,
            context,
            log_name=f"{query.stem}_colabfold_log.txt",
            parse_progress=ColabFoldProgress(options.num_models),
            span=(0.02, 0.95),
        )
        context.progress(0.96, "reading the predictions")
        outdir = workdir / OUT_DIR
        models, prefix = read_colabfold_models(outdir)
        if not models or prefix is None:
            raise PredictionFailed(
                f"colabfold_batch exited normally but wrote no scored models to {OUT_DIR}; "
                f"{tail_message(log)}"
            )
        rows, files = publish_models(context, models, query.stem)
        extras = [
            (f"{prefix}_predicted_aligned_error_v1.json", "pae.json", "json"),
            (f"{prefix}_plddt.png", "plddt.png", "png"),
            (f"{prefix}_pae.png", "pae.png", "png"),
            (f"{prefix}_coverage.png", "coverage.png", "png"),
            (f"{prefix}.a3m", "msa.a3m", "a3m"),
        ]
        for source_name, suffix, fmt in extras:
            if (outdir / source_name).is_file():
                files.append(publish(context, outdir / source_name, f"{query.stem}_{suffix}", fmt))
        files.append(publish(context, input_path, f"{query.stem}_input.fasta", "fasta"))
        files.append(ResultFile(name=log.name, format="text", size=log.stat().st_size))
        context.progress(1.0, "done")
        summary: JsonDict = {
            "chains": len(query.chains),
            "residues": query.residues,
            "model_type": model_type,
            "msa_mode": options.msa_mode,
        }
        return prediction_result(summary, rows, files)
