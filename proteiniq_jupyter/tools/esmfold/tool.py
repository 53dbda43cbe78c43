"""The ESMFold tool: its slot, settings, outputs, price, requirements and run."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import ClassVar

import pydantic

from ...jobs.errors import ValidationError
from ...jobs.model import Estimate, EstimateLine, JobInput, JsonDict, ToolResult
from ..base import InputSlot, OutputField, RunContext, Tool
from ..parsing import check_size, file_stem, only_item, settings_as
from ..sequence import parse_fasta
from .folding import CHAIN_IDS, CHAIN_LINKER, CHAIN_SEPARATOR, fold
from .inputs import ALLOWED, ALPHABET, FoldInput, name_positions
from .model import (
    is_loaded,
    load_model,
    loaded_weights,
    missing_model,
    missing_packages,
    model_location,
    model_name,
)

# Credits: a flat price covers a short protein; longer ones pay per started block.
BASE_CREDITS = 50
BASE_RESIDUES = 100
BLOCK_RESIDUES = 50
BLOCK_CREDITS = 10

_SLOT = "sequence"


class EsmFoldSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    num_recycles: int | None = pydantic.Field(
        None,
        ge=0,
        le=12,
        description=(
            "times the trunk's output is fed back into it after the first pass; empty "
            "uses the model's default (max_recycles passes in all: 3 recycles for ESMFold "
            "v1). More can help hard targets; each costs another pass of time"
        ),
    )
    chunk_size: int | None = pydantic.Field(
        None,
        ge=1,
        le=1024,
        description=(
            "compute the axial attention in chunks of this many rows: less memory for "
            "long sequences, same result (128, 64, 32); empty uses the model's own setting"
        ),
    )


class EsmFold(Tool):
    """ESMFold structure prediction from a single sequence (no MSA)."""

    id = "esmfold"
    libraries = ("torch", "transformers", "numpy")
    name = "ESMFold"
    description = (
        "Predict a protein's 3D structure from its sequence alone with Meta's ESMFold "
        "(ESM-2 language model and folding trunk). Gives a PDB with per-residue pLDDT "
        "(0-100) in the B-factor column, pTM and the predicted aligned error matrix. "
        "Chains of a complex can be joined with ':'."
    )
    category = "folding"
    subcategory = "structure prediction"
    tags = ("protein", "structure prediction", "esmfold", "esm", "plddt", "pdb")
    version = "1"
    #: ESMFold runs on a CPU too; a ``gpu`` tool would wait for a GPU worker.
    gpu = False
    prefers_gpu = True
    preload = ("torch", "transformers.models.esm.modeling_esmfold")
    time_limit_s = 1800.0
    slots = (
        InputSlot(
            id=_SLOT,
            kind="protein",
            formats=("fasta", "text"),
            label="Protein sequence",
            description=(
                "One FASTA record or a bare sequence: the 20 standard amino acids and X. "
                "Separate the chains of a complex with ':' (joined by a 25-glycine linker)."
            ),
        ),
    )
    outputs = (
        OutputField("name", "record name: the first word of the FASTA header"),
        OutputField("residues", "residues folded, over all chains", "residues"),
        OutputField("chains", "chains folded together"),
        OutputField("mean_plddt", "mean per-residue pLDDT (CA), 0-100"),
        OutputField("ptm", "predicted TM-score, 0-1"),
        OutputField("max_pae", "largest value the PAE can take", "Å"),
        OutputField("model", "the model: a hub id, or its directory's name (PIQ_ESMFOLD_MODEL)"),
        OutputField("device", "where it ran: cpu or cuda"),
        OutputField(
            "model_in_memory",
            "the model was in memory when the job started (its worker had loaded it), "
            "rather than read from disk",
        ),
        OutputField("chain", "chain id in the PDB (rows)"),
        OutputField("residue_number", "residue number in its chain (rows)"),
        OutputField("residue", "one-letter residue code (rows)"),
        OutputField("plddt", "pLDDT of the residue's CA, 0-100 (rows)"),
    )
    settings_model = EsmFoldSettings
    limits: ClassVar[JsonDict] = {
        "max_file_bytes": 100_000,
        "max_residues": 1000,
        "max_chains": 10,
        "chain_linker_residues": len(CHAIN_LINKER),
    }
    credit_description = (
        f"{BASE_CREDITS} credits up to {BASE_RESIDUES} residues, then {BLOCK_CREDITS} "
        f"credits per further {BLOCK_RESIDUES} residues or part of them"
    )
    credit_rates: ClassVar[JsonDict] = {
        "base_credits": BASE_CREDITS,
        "base_residues": BASE_RESIDUES,
        "block_credits": BLOCK_CREDITS,
        "block_residues": BLOCK_RESIDUES,
    }

    def _input(self, inputs: Sequence[JobInput]) -> FoldInput:
        index, item = only_item(inputs, _SLOT)
        check_size(item, index, self.limits["max_file_bytes"])
        try:
            [record] = parse_fasta(
                item.content,
                alphabet=ALPHABET + CHAIN_SEPARATOR,
                allowed=ALLOWED,
                index=index,
                slot=_SLOT,
                max_records=1,
            )
        except ValidationError as exc:
            raise name_positions(exc, item.content) from None
        chains = tuple(record.sequence.split(CHAIN_SEPARATOR))
        place = f"record {record.name!r}, line {record.line}"
        problems: list[str] = []
        empty = [str(n) for n, chain in enumerate(chains, start=1) if not chain]
        if empty:
            problems.append(
                f"{place}: chain {', '.join(empty)} of {len(chains)} is empty "
                "(a ':' at an end, or two in a row)"
            )
        if len(chains) > self.limits["max_chains"]:
            problems.append(
                f"{place}: {len(chains)} chains; the limit is {self.limits['max_chains']}"
            )
        fold_input = FoldInput(record.name, chains)
        if fold_input.residues > self.limits["max_residues"]:
            problems.append(
                f"{place}: the sequence is {fold_input.residues:,} residues long; "
                f"ESMFold's limit here is {self.limits['max_residues']:,}"
            )
        if problems:
            errors = [
                {"message": m, "field": f"input.inputs[{index}].content", "slot": _SLOT}
                for m in problems
            ]
            raise ValidationError("; ".join(problems), errors=errors)
        return fold_input

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._input(inputs)

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        return estimate_credits(self._input(inputs).residues)

    @classmethod
    def warm_up(cls) -> None:
        """The model itself, on the CPU, when its weights are here: every job then
        forks with it loaded (shared with the worker's fork server, not copied:
        folding only reads the weights) instead of reading it from disk. Where they
        are not, transformers' table of checkpoint renamings (about 1,100 regular
        expressions), which a process's first ``from_pretrained`` builds.

        Nothing may leave a thread behind, as jobs fork from this process: torch
        runs on one thread meanwhile (a forked OpenMP pool hangs its children), and
        transformers shows no progress bar (tqdm's keeps a monitor thread)."""
        location = model_location()
        if missing_packages() or missing_model(location):
            try:
                from transformers.conversion_mapping import get_checkpoint_conversion_mapping
            except ImportError:  # a transformers without the table has nothing to build
                return
            get_checkpoint_conversion_mapping("esm")
            return
        import torch
        from transformers.utils import logging as transformers_logging

        threads = torch.get_num_threads()
        bars = transformers_logging.is_progress_bar_enabled()
        torch.set_num_threads(1)
        transformers_logging.disable_progress_bar()
        try:
            load_model(location, device="cpu")
        finally:
            torch.set_num_threads(threads)
            if bars:
                transformers_logging.enable_progress_bar()

    def missing_requirements(self) -> str | None:
        return missing_packages() or missing_model(model_location())

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        options = settings_as(settings, EsmFoldSettings)
        fold_input = self._input(inputs)
        location = model_location()
        in_memory = is_loaded(location)
        if in_memory:
            context.progress(0.02, f"using the ESMFold model already loaded from {location}")
        else:
            context.progress(0.02, f"loading the ESMFold model from {location}")
        model = load_model(location)
        context.loaded_weights(loaded_weights(location))
        device = next(model.parameters()).device.type
        context.progress(0.1, f"model ready on {device}")
        # The model's forward pass says nothing until it ends: the engine estimates it.
        with context.estimated_phase(
            0.1, 0.95, f"folding {fold_input.residues} residues on {device}"
        ):
            prediction = fold(
                model,
                fold_input.sequence,
                num_recycles=options.num_recycles,
                chunk_size=options.chunk_size,
            )
        context.progress(0.95, "writing the structure")
        _, item = only_item(inputs, _SLOT)
        stem = file_stem(item, _safe_stem(fold_input.name))
        pdb_file = context.write_file(f"{stem}.pdb", prediction.pdb, "pdb")
        pae = [
            {
                "predicted_aligned_error": prediction.pae,
                "max_predicted_aligned_error": prediction.max_pae,
            }
        ]
        pae_file = context.write_file(
            f"{stem}_pae.json", json.dumps(pae, separators=(",", ":")), "json"
        )
        rows = [
            {
                "index": i + 1,
                "chain": CHAIN_IDS[chain],
                "residue_number": number,
                "residue": residue,
                "plddt": plddt,
            }
            for i, (chain, number, residue, plddt) in enumerate(
                zip(*_residue_columns(prediction.chains), prediction.plddt, strict=True)
            )
        ]
        context.progress(1.0, "done")
        fields: JsonDict = {
            "name": fold_input.name,
            "residues": prediction.residues,
            "chains": len(prediction.chains),
            "mean_plddt": prediction.mean_plddt,
            "ptm": prediction.ptm,
            "max_pae": prediction.max_pae,
            "model": model_name(location),
            "device": device,
            "model_in_memory": in_memory,
        }
        return ToolResult(fields=fields, rows=rows, files=[pdb_file, pae_file])


def estimate_credits(residues: int) -> Estimate:
    """The price of folding ``residues`` residues (the linker is not counted)."""
    lines = [
        EstimateLine(f"ESMFold, up to {BASE_RESIDUES} residues", 1, BASE_CREDITS, BASE_CREDITS)
    ]
    extra = math.ceil(max(0, residues - BASE_RESIDUES) / BLOCK_RESIDUES)
    if extra:
        lines.append(
            EstimateLine(
                f"each further {BLOCK_RESIDUES} residues or part ({residues} residues)",
                extra,
                BLOCK_CREDITS,
                extra * BLOCK_CREDITS,
            )
        )
    return Estimate(tuple(lines))


def _residue_columns(chains: Sequence[str]) -> tuple[list[int], list[int], list[str]]:
    chain_of: list[int] = []
    number: list[int] = []
    residue: list[str] = []
    for index, chain in enumerate(chains):
        chain_of += [index] * len(chain)
        number += range(1, len(chain) + 1)
        residue += list(chain)
    return chain_of, number, residue


def _safe_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-")[:80] or "esmfold"
