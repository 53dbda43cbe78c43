"""ESMFold: structure prediction from one sequence with transformers' EsmForProteinFolding.

The model is read from ``PIQ_ESMFOLD_MODEL``: a directory saved by transformers, or a
Hugging Face hub id (default ``facebook/esmfold_v1``) whose files are already in the
local cache. It is always loaded with ``local_files_only=True``, so a run never reaches
the internet. torch and transformers are imported only when a job runs, so the
catalogue works without them and ``missing_requirements`` names what to install.

The tool declares ``gpu = False``: the executor makes a ``gpu`` tool wait for a worker
with a GPU, and ESMFold also runs on a CPU. It uses the worker's GPU when there is one
(``prefers_gpu``).

This version of transformers gives pLDDT as a fraction (0-1) per atom, and
``infer_pdb`` writes that fraction into the B-factor column. The tool reports pLDDT
per residue (its CA atom) on the 0-100 scale of AlphaFold and the original ESMFold,
both in its results and on every atom of the residue in the PDB.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic

from ..jobs.errors import ValidationError
from ..jobs.model import Estimate, EstimateLine, JobInput, JsonDict, ToolResult
from ..jobs.provenance import ModelWeights
from .base import InputSlot, OutputField, RunContext, Tool
from .parsing import check_size, file_stem, only_item, settings_as, split_lines
from .sequence import STANDARD_AMINO_ACIDS, parse_fasta
from .weights import index_fingerprint

if TYPE_CHECKING:
    from transformers import EsmForProteinFolding

MODEL_ENV = "PIQ_ESMFOLD_MODEL"
DEFAULT_MODEL = "facebook/esmfold_v1"
INSTALL_HINT = "pip install 'proteiniq-jupyter[esmfold]'"

#: What a saved model must hold: its configuration, its weights (one of these) and the
#: tokenizer's vocabulary.
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)

#: ESMFold folds a complex as one chain: the chains joined by a poly-glycine linker,
#: with a jump in residue index between them, as the original ESMFold does.
CHAIN_SEPARATOR = ":"
CHAIN_LINKER = "G" * 25
RESIDUE_INDEX_OFFSET = 512
#: The 20 standard amino acids and X (unknown), which the model embeds as such.
ALPHABET = STANDARD_AMINO_ACIDS + "X"
_ALLOWED = (
    "ESMFold takes the 20 standard amino-acid letters and X (unknown); "
    "':' separates the chains of a complex"
)
#: PDB files name chains with one letter.
_CHAIN_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Credits: a flat price covers a short protein; longer ones pay per started block.
BASE_CREDITS = 50
BASE_RESIDUES = 100
BLOCK_RESIDUES = 50
BLOCK_CREDITS = 10

_SLOT = "sequence"


# -- requirements and model loading -----------------------------------------


def model_location() -> str:
    """Where the weights are: ``PIQ_ESMFOLD_MODEL``, else the default hub id."""
    return os.environ.get(MODEL_ENV, "").strip() or DEFAULT_MODEL


def model_name(location: str) -> str:
    """What results show of the location: a hub id, or a directory's own name (a job
    can be made public, and the full path says nothing to its readers)."""
    if _looks_like_path(location):
        return Path(location).expanduser().resolve().name or location
    return location


def default_device() -> str:
    """``cuda`` when this process sees a GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def missing_packages() -> str | None:
    """Why torch/transformers cannot be used, naming the install command; checked
    without importing them (importing torch takes seconds)."""
    absent = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    verb = "is" if len(absent) == 1 else "are"
    return f"{' and '.join(absent)} {verb} not installed: {INSTALL_HINT}"


def _looks_like_path(location: str) -> bool:
    """A hub id is ``owner/name``; anything else with a separator is a path."""
    return (
        location.startswith((".", "~", os.sep))
        or location.count("/") > 1
        or (os.altsep is not None and os.altsep in location)
        or Path(location).expanduser().exists()
    )


def _expected() -> str:
    return (
        f"set {MODEL_ENV} to a directory holding an ESMFold model saved by transformers "
        f"({CONFIG_FILE}, {' or '.join(WEIGHT_FILES[::2])}, {VOCAB_FILE}), or to a Hugging "
        "Face hub id whose files are in the local cache"
    )


def missing_model(location: str) -> str | None:
    """Why ``location`` holds no usable ESMFold model; cheap (looks at files only)."""
    source = (
        f"{MODEL_ENV}={location!r}"
        if os.environ.get(MODEL_ENV, "").strip()
        else (f"{MODEL_ENV} is not set, so the default {location!r} is used")
    )
    if _looks_like_path(location):
        folder = Path(location).expanduser()
        if not folder.is_dir():
            return f"{source}: no such directory; {_expected()}"
        absent = [name for name in (CONFIG_FILE, VOCAB_FILE) if not (folder / name).is_file()]
        if not any((folder / name).is_file() for name in WEIGHT_FILES):
            absent.append(f"weights ({' or '.join(WEIGHT_FILES)})")
        if absent:
            return f"{source}: the directory has no {', '.join(absent)}; {_expected()}"
        return None
    from huggingface_hub import constants, try_to_load_from_cache

    def cached(name: str) -> bool:
        try:
            return isinstance(try_to_load_from_cache(location, name), str)
        except ValueError:  # not a valid repository id
            return False

    if cached(CONFIG_FILE) and cached(VOCAB_FILE) and any(cached(n) for n in WEIGHT_FILES):
        return None
    return (
        f"{source}, but its files are not in the local Hugging Face cache "
        f"({constants.HF_HUB_CACHE}); download them once where there is internet "
        f"(hf download {location}) or {_expected()}"
    )


_LOAD_LOCK = threading.Lock()
#: Runs share one model; a fold changes its chunk size while it runs, and two folds
#: at once would only compete for the same cores or GPU memory.
_INFERENCE_LOCK = threading.Lock()
#: The one model this process keeps: (location, device) -> model. A job process
#: loads it once; the in-process executor and benchmarks reuse it.
_LOADED: dict[tuple[str, str], EsmForProteinFolding] = {}


def load_model(location: str | None = None, device: str | None = None) -> EsmForProteinFolding:
    """The model at ``location`` (default: ``model_location()``) on ``device``
    (default: the GPU when there is one), loaded offline once per process. Loading
    another location drops the previous model, since each takes gigabytes. The
    tokenizer is not loaded: ``fold`` encodes residues in the order the folding
    trunk expects, which is not the tokenizer's."""
    location = location or model_location()
    with _LOAD_LOCK:
        device = device or default_device()
        key = (location, device)
        if key in _LOADED:
            return _LOADED[key]
        import torch
        from transformers import EsmForProteinFolding

        # A copy the worker loaded on the CPU before forking this job moves to the
        # GPU rather than being read from disk again.
        model = _LOADED.pop((location, "cpu"), None)
        _LOADED.clear()
        if model is None:
            path = str(Path(location).expanduser()) if _looks_like_path(location) else location
            model = EsmForProteinFolding.from_pretrained(path, local_files_only=True)
        module: torch.nn.Module = model  # nn.Module's typed methods; they act in place
        if device == "cpu":
            module.float()  # the language model may be half precision, slow on a CPU
        module.to(device).eval()
        _LOADED[key] = model
        return model


def loaded_weights(location: str) -> ModelWeights:
    """The model at ``location`` as a job's provenance records it: a fingerprint of
    its configuration and shard index (from the local cache, for a hub id)."""
    folder: Path | None = None
    if _looks_like_path(location):
        folder = Path(location).expanduser()
    else:
        from huggingface_hub import try_to_load_from_cache

        try:
            config = try_to_load_from_cache(location, CONFIG_FILE)
        except ValueError:  # not a valid repository id
            config = None
        folder = Path(config).parent if isinstance(config, str) else None
    fingerprint = index_fingerprint(folder) if folder is not None else None
    return ModelWeights(name=model_name(location), location=location, fingerprint=fingerprint)


def is_loaded(location: str) -> bool:
    """Whether this process holds the model at ``location``, on any device: loaded
    by an earlier job here, or by the worker before forking."""
    with _LOAD_LOCK:
        return any(loc == location for loc, _ in _LOADED)


# -- prediction ---------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """One fold, linker residues removed. pLDDT is per residue (its CA), 0-100."""

    chains: tuple[str, ...]
    pdb: str
    plddt: tuple[float, ...]
    ptm: float
    pae: list[list[float]]
    max_pae: float

    @property
    def residues(self) -> int:
        return len(self.plddt)

    @property
    def mean_plddt(self) -> float:
        return round(sum(self.plddt) / len(self.plddt), 2)


def _as_percent(plddt: Any) -> Any:
    """pLDDT on 0-100. This transformers version gives 0-1 (the original ESMFold
    multiplied by 100); a version that already scales is left as it is."""
    return plddt * 100.0 if float(plddt.max()) <= 1.0 + 1e-6 else plddt


def fold(
    model: EsmForProteinFolding,
    sequence: str,
    *,
    num_recycles: int | None = None,
    chunk_size: int | None = None,
) -> Prediction:
    """Fold ``sequence`` (chains separated by ':') as ``model.infer`` does, with the
    recycles and chunk size chosen; for one chain the structure is ``infer_pdb``'s."""
    import numpy as np
    import torch
    from transformers.models.esm.openfold_utils import residue_constants
    from transformers.models.esm.openfold_utils.feats import atom14_to_atom37
    from transformers.models.esm.openfold_utils.loss import compute_tm
    from transformers.models.esm.openfold_utils.protein import Protein, to_pdb

    chains = tuple(sequence.split(CHAIN_SEPARATOR))
    order = residue_constants.restype_order_with_x
    aatype: list[int] = []
    position: list[int] = []
    keep: list[bool] = []
    chain_index: list[int] = []
    residue_number: list[int] = []
    for number, chain in enumerate(chains):
        if number:  # the linker, indexed with the chain before it as the original does
            start = len(aatype)
            offset = (number - 1) * RESIDUE_INDEX_OFFSET
            aatype += [order["G"]] * len(CHAIN_LINKER)
            position += [offset + i for i in range(start, start + len(CHAIN_LINKER))]
            keep += [False] * len(CHAIN_LINKER)
        start = len(aatype)
        offset = number * RESIDUE_INDEX_OFFSET
        aatype += [order.get(aa, order["X"]) for aa in chain]
        position += [offset + i for i in range(start, start + len(chain))]
        keep += [True] * len(chain)
        chain_index += [number] * len(chain)
        residue_number += range(1, len(chain) + 1)

    device = next(model.parameters()).device
    input_ids = torch.tensor([aatype], dtype=torch.long, device=device)
    position_ids = torch.tensor([position], dtype=torch.long, device=device)
    kept = torch.tensor(keep, device=device)
    with _INFERENCE_LOCK, torch.inference_mode():
        trunk: Any = model.trunk
        configured = trunk.chunk_size
        if chunk_size is not None:
            trunk.set_chunk_size(chunk_size)
        try:
            output = model(
                input_ids,
                attention_mask=torch.ones_like(input_ids),
                position_ids=position_ids,
                num_recycles=num_recycles,
            )
        finally:
            trunk.set_chunk_size(configured)
        atoms = atom14_to_atom37(output["positions"][-1], output)[0][kept]
        atom_mask = output["atom37_atom_exists"][0][kept]
        plddt = _as_percent(output["plddt"][0][kept][:, residue_constants.atom_order["CA"]])
        ptm = compute_tm(
            output["ptm_logits"][0],
            residue_weights=kept.to(output["ptm_logits"].dtype),
            max_bin=31,
            no_bins=model.distogram_bins,
        )
        pae = output["predicted_aligned_error"][0][kept][:, kept]
        max_pae = float(output["max_predicted_aligned_error"].reshape(-1)[0])

    per_residue = np.round(plddt.double().cpu().numpy(), 2)
    protein = Protein(
        aatype=np.asarray(aatype)[keep],
        atom_positions=atoms.float().cpu().numpy(),
        atom_mask=atom_mask.float().cpu().numpy(),
        residue_index=np.asarray(residue_number),
        b_factors=np.repeat(per_residue[:, None], atom_mask.shape[-1], axis=1),
        chain_index=np.asarray(chain_index) if len(chains) > 1 else None,
    )
    return Prediction(
        chains=chains,
        pdb=to_pdb(protein),
        plddt=tuple(float(v) for v in per_residue),
        ptm=round(float(ptm), 4),
        pae=np.round(pae.double().cpu().numpy(), 2).tolist(),
        max_pae=round(max_pae, 2),
    )


# -- input ----------------------------------------------------------------------


@dataclass(frozen=True)
class FoldInput:
    name: str
    chains: tuple[str, ...]

    @property
    def sequence(self) -> str:
        return CHAIN_SEPARATOR.join(self.chains)

    @property
    def residues(self) -> int:
        return sum(len(chain) for chain in self.chains)


def _residue_places(text: str) -> dict[tuple[int, int], tuple[int, int, bool]]:
    """(line, character) of each sequence character -> (chain, residue in that chain,
    whether its record has several chains), counted as ``parse_fasta`` reads them."""
    places: dict[tuple[int, int], tuple[int, int, bool]] = {}
    record: list[tuple[int, int, int, int]] = []

    def close() -> None:
        several = any(chain > 1 for *_, chain, _ in record)
        for line, column, chain, residue in record:
            places[(line, column)] = (chain, residue, several)
        record.clear()

    chain, residue = 1, 0
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith(">"):
            close()
            chain, residue = 1, 0
            continue
        for column, char in enumerate(line, start=1):
            if char.isspace():
                continue
            if char == CHAIN_SEPARATOR:
                chain, residue = chain + 1, 0
                continue
            residue += 1
            record.append((number, column, chain, residue))
    close()
    return places


def _name_positions(exc: ValidationError, text: str) -> ValidationError:
    """``parse_fasta``'s errors with the residue number of each bad character added, so
    'line 3, character 17' also reads as the residue a user sees in a viewer."""
    places = _residue_places(text)
    errors: list[dict[str, Any]] = []
    for error in exc.errors:
        error = dict(error)
        place = places.get((error.get("line", 0), error.get("column", 0)))
        if place is not None:
            chain, residue, several = place
            where = f"chain {chain}, residue {residue}" if several else f"residue {residue}"
            old = f"line {error['line']}, character {error['column']}:"
            error["message"] = error["message"].replace(
                old, f"line {error['line']}, character {error['column']} ({where}):", 1
            )
            error["residue"] = residue
            if several:
                error["chain"] = chain
        errors.append(error)
    return ValidationError("; ".join(e["message"] for e in errors), errors=errors)


# -- the tool -------------------------------------------------------------------


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
                allowed=_ALLOWED,
                index=index,
                slot=_SLOT,
                max_records=1,
            )
        except ValidationError as exc:
            raise _name_positions(exc, item.content) from None
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
                "chain": _CHAIN_IDS[chain],
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
