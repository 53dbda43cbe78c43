"""What the structure-prediction tools (Boltz-2, AlphaFold-2 through ColabFold) share.

Each tool runs a program installed on the GPU worker, so this module holds the parts
that do not depend on which program it is:

* finding the program and its weights, and saying what to install or set when they
  are missing (the runner asks before the job starts, so such a job costs nothing);
* running the program in the job's folder with its output streamed into a log there,
  turning its output lines into progress, and failing with the end of the log;
* the one-line-per-complex batch syntax and the protein and ligand checks behind it;
* turning each program's ranked models into the same rows (pLDDT on 0-100, pTM,
  ipTM, ranking score) and moving its files to the top of the job folder under
  clear names, where the job's file list can serve them.

Batch input, one job per line::

    [NAME] CHAIN[:CHAIN...] [smiles=SMILES]... [ccd=CODE]...

Fields are separated by spaces or tabs. CHAIN is a protein sequence in one-letter
codes and ':' separates the chains of one complex. NAME, when given, is the first of
two bare fields and names the job and its files. ``smiles=`` and ``ccd=`` add a ligand
(Boltz-2 only). Blank lines and lines starting with '#' are skipped; errors name the
line and character in the submitted text.
"""

from __future__ import annotations

from ..programs import Program
from .inputs import (
    LIGAND_KEYS,
    PROTEIN_ALPHABET,
    PROTEIN_LETTERS,
    BatchLine,
    Ligand,
    check_chains,
    check_complex_size,
    check_ligand,
    check_smiles,
    parse_batch_lines,
    residue_blocks,
)
from .outputs import (
    RankedModel,
    as_percent,
    json_number,
    mean,
    prediction_result,
    publish,
    publish_models,
    read_json,
    residue_plddt,
    structure_format,
)
from .program import (
    LOG_TAIL_CHARS,
    LOG_TAIL_LINES,
    MSA_SERVER_ENV,
    PredictionFailed,
    configured_dir,
    log_tail,
    msa_server_url,
    run_program,
    tail_message,
)

__all__ = [
    "LIGAND_KEYS",
    "LOG_TAIL_CHARS",
    "LOG_TAIL_LINES",
    "MSA_SERVER_ENV",
    "PROTEIN_ALPHABET",
    "PROTEIN_LETTERS",
    "BatchLine",
    "Ligand",
    "PredictionFailed",
    "Program",
    "RankedModel",
    "as_percent",
    "check_chains",
    "check_complex_size",
    "check_ligand",
    "check_smiles",
    "configured_dir",
    "json_number",
    "log_tail",
    "mean",
    "msa_server_url",
    "parse_batch_lines",
    "prediction_result",
    "publish",
    "publish_models",
    "read_json",
    "residue_blocks",
    "residue_plddt",
    "run_program",
    "structure_format",
    "tail_message",
]
