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

import json
import math
import os
import re
import shlex
import string
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gemmi
from rdkit import Chem

from ..jobs.model import JobInput, JsonDict, ResultFile, ToolResult
from .base import RunContext
from .molecule import chemistry_problems, rdkit_log, summarise_log
from .parsing import ErrorList, entry_lines, format_fasta
from .programs import Program as Program
from .sequence import STANDARD_AMINO_ACIDS

#: Both programs read X as an unknown residue; other ambiguity codes they reject.
PROTEIN_ALPHABET = STANDARD_AMINO_ACIDS + "X"
PROTEIN_LETTERS = "use the one-letter codes of the 20 standard amino acids (or X for unknown)"
#: Shared by both tools: a self-hosted ColabFold MMseqs2 server for MSA building.
MSA_SERVER_ENV = "PIQ_MSA_SERVER_URL"
#: How many lines of the program's log a failed job's message shows.
LOG_TAIL_LINES = 15
LOG_TAIL_CHARS = 2500

# -- the program and its weights ---------------------------------------------


def configured_dir(env_vars: Sequence[str], default: Path) -> tuple[Path, str]:
    """The folder named by the first of ``env_vars`` that is set, else ``default``;
    with a phrase saying where it came from, for messages."""
    for name in env_vars:
        value = os.environ.get(name, "").strip()
        if value:
            return Path(value).expanduser(), f"{name}={value}"
    return default, f"the default {default}, as none of {', '.join(env_vars)} is set"


def msa_server_url() -> str | None:
    """The MSA server the operator chose, if any (otherwise each program's default)."""
    return os.environ.get(MSA_SERVER_ENV, "").strip() or None


# -- running the program -----------------------------------------------------


class PredictionFailed(RuntimeError):
    """The program could not run, failed, or left no usable output. The message
    says which and shows the end of its log."""


#: Reads one output line of the program; returns (fraction of the program's run
#: done, message) when the line says something about progress.
ProgressParser = Callable[[str], tuple[float, str] | None]

_LINE_BREAK = re.compile(rb"[\r\n]")
_PROGRESS_BAR = re.compile(r"\d+%\|")


def run_program(
    command: Sequence[str],
    context: RunContext,
    *,
    log_name: str,
    parse_progress: ProgressParser | None = None,
    span: tuple[float, float] = (0.05, 0.95),
) -> Path:
    """Run ``command`` in the job's folder, its stdout and stderr streamed into
    ``log_name`` there, and report progress from its lines into ``span`` of the
    job's progress. Returns the log's path.

    The program stays in the job's process group, so cancelling the job or its time
    limit stops it too. Raises PredictionFailed when it cannot start or exits with a
    non-zero status, with the last lines of its log in the message.
    """
    workdir = context.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / log_name
    low, high = span
    reached = low
    program = Path(command[0]).name
    with log_path.open("wb") as log:
        log.write(f"$ {shlex.join(command)}\n".encode())
        log.flush()
        try:
            process = subprocess.Popen(
                list(command),
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            raise PredictionFailed(f"{program} could not be started: {exc}") from exc
        assert process.stdout is not None
        pending = b""
        try:
            while chunk := os.read(process.stdout.fileno(), 65536):
                log.write(chunk)
                log.flush()
                *lines, pending = _LINE_BREAK.split(pending + chunk)
                for raw in lines:
                    reached = _feed(raw, parse_progress, context, low, high, reached)
            _feed(pending, parse_progress, context, low, high, reached)
            status = process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
    if status != 0:
        how = f"was stopped by signal {-status}" if status < 0 else f"exited with status {status}"
        raise PredictionFailed(f"{program} {how}; {tail_message(log_path)}")
    return log_path


def _feed(
    raw: bytes,
    parse: ProgressParser | None,
    context: RunContext,
    low: float,
    high: float,
    reached: float,
) -> float:
    """Report one output line's progress; progress never goes backwards."""
    text = raw.decode("utf-8", "replace").strip()
    if parse is None or not text:
        return reached
    found = parse(text)
    if found is None:
        return reached
    fraction, message = found
    reached = max(reached, low + (high - low) * min(1.0, max(0.0, fraction)))
    context.progress(reached, message)
    return reached


def log_tail(path: Path, lines: int = LOG_TAIL_LINES, max_chars: int = LOG_TAIL_CHARS) -> str:
    """The last non-blank lines of a log, a redrawn progress bar counted once."""
    try:
        data = path.read_bytes()[-65536:]
    except OSError:
        return ""
    kept: list[str] = []
    for line in re.split(r"[\r\n]", data.decode("utf-8", "replace")):
        line = line.rstrip()
        if not line.strip():
            continue
        if kept and _PROGRESS_BAR.search(line) and _PROGRESS_BAR.search(kept[-1]):
            kept[-1] = line
        else:
            kept.append(line)
    return "\n".join(kept[-lines:])[-max_chars:]


def tail_message(log_path: Path) -> str:
    tail = log_tail(log_path)
    if not tail:
        return f"{log_path.name} is empty"
    return f"the last lines of {log_path.name}:\n{tail}"


# -- reading and publishing the outputs ---------------------------------------


def as_percent(value: float | None) -> float | None:
    """A confidence on 0-1 (Boltz's pLDDT) as 0-100, the scale AlphaFold reports."""
    return None if value is None else float(value) * 100.0


def residue_plddt(path: Path) -> list[float]:
    """Per-residue pLDDT of a predicted structure, from its B-factor column (the CA
    atom's, else the residue's first atom's) in the first model, on 0-100: a
    structure whose values all lie within 0-1 is scaled up."""
    structure = gemmi.read_structure(str(path))
    values: list[float] = []
    for chain in structure[0]:
        for residue in chain:
            if len(residue) == 0:
                continue
            atom = residue.find_atom("CA", "*") or residue[0]
            values.append(float(atom.b_iso))
    if values and max(values) <= 1.0:
        values = [v * 100.0 for v in values]
    return values


def mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return math.fsum(items) / len(items) if items else None


def read_json(path: Path) -> JsonDict:
    """A JSON object the program wrote; a broken one fails the job, naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PredictionFailed(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise PredictionFailed(f"{path.name} does not hold a JSON object")
    return data


def json_number(data: Mapping[str, Any], key: str) -> float | None:
    """``data[key]`` as a float, or None when absent or not a finite number."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass
class RankedModel:
    """One predicted model, normalised: pLDDT on 0-100; pTM, ipTM and the ranking
    score on 0-1. ``attachments`` are the program's other files for this model, as
    (path, name suffix, format)."""

    rank: int
    model: str
    structure: Path
    plddt: float | None
    ptm: float | None = None
    iptm: float | None = None
    ranking_score: float | None = None
    extra: JsonDict = field(default_factory=dict)
    attachments: list[tuple[Path, str, str]] = field(default_factory=list)


def _rounded(value: Any, digits: int) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def publish(context: RunContext, source: Path, name: str, format: str) -> ResultFile:
    """Move one of the program's output files to the top of the job folder as
    ``name``, where the job's file list serves it, and describe it."""
    if "/" in name or name.startswith("."):
        raise ValueError(f"output file name {name!r} must be a plain file name")
    target = context.workdir / name
    if source.resolve() != target.resolve():
        os.replace(source, target)
    return ResultFile(name=name, format=format, size=target.stat().st_size)


def structure_format(path: Path) -> str:
    return "mmcif" if path.suffix.lower() in (".cif", ".mmcif") else "pdb"


def publish_models(
    context: RunContext, models: Sequence[RankedModel], stem: str
) -> tuple[list[JsonDict], list[ResultFile]]:
    """Each model's structure and attachments as ``<stem>_rank_<k>...`` files, and
    one row per model in rank order."""
    rows: list[JsonDict] = []
    files: list[ResultFile] = []
    for model in sorted(models, key=lambda m: m.rank):
        name = f"{stem}_rank_{model.rank}{model.structure.suffix.lower()}"
        files.append(publish(context, model.structure, name, structure_format(model.structure)))
        for path, suffix, fmt in model.attachments:
            files.append(publish(context, path, f"{stem}_rank_{model.rank}_{suffix}", fmt))
        row: JsonDict = {
            "rank": model.rank,
            "model": model.model,
            "mean_plddt": _rounded(model.plddt, 2),
            "ptm": _rounded(model.ptm, 4),
            "iptm": _rounded(model.iptm, 4),
            "ranking_score": _rounded(model.ranking_score, 4),
        }
        row.update({k: _rounded(v, 4) for k, v in model.extra.items()})
        row["structure"] = name
        rows.append(row)
    return rows, files


def prediction_result(
    summary: JsonDict, rows: list[JsonDict], files: list[ResultFile], extra: JsonDict | None = None
) -> ToolResult:
    """The job's one-row description: its size, the number of models and the
    top-ranked model's scores and structure file."""
    best = rows[0]
    fields: JsonDict = dict(summary)
    fields["models"] = len(rows)
    for key in ("mean_plddt", "ptm", "iptm", "ranking_score"):
        fields[key] = best.get(key)
    fields["best_structure"] = best["structure"]
    fields.update(extra or {})
    return ToolResult(fields=fields, rows=rows, files=files)


# -- input: chains, ligands and the batch syntax --------------------------------


@dataclass(frozen=True)
class Ligand:
    """A small molecule given by SMILES or by its PDB Chemical Component code."""

    kind: Literal["smiles", "ccd"]
    value: str
    name: str

    def as_line(self) -> str:
        """The ligand in the ligands-input syntax: ``smiles=...`` or ``ccd=...``."""
        return f"{self.kind}={self.value} {self.name}"


@dataclass(frozen=True)
class BatchLine:
    """One job of a batch input: the line it came from, its name and content."""

    line: int
    name: str | None
    chains: tuple[str, ...]
    ligands: tuple[Ligand, ...]

    @property
    def label(self) -> str:
        return self.name or f"line {self.line}"

    def protein_input(self, base: str, slot: str) -> JobInput:
        """The line's chains as one job's FASTA input, records named after the line
        and lettered A, B, ... in order."""
        prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label)
        records = (
            (f"{prefix}_{letter}", seq)
            for letter, seq in zip(string.ascii_uppercase, self.chains, strict=False)
        )
        return JobInput(
            id=f"{base}_line{self.line}",
            slot_id=slot,
            kind="protein",
            format="fasta",
            content=format_fasta(records, width=0),
            label=self.label,
        )


_CCD_CODE = re.compile(r"[A-Za-z0-9]{1,5}")
LIGAND_KEYS = ("smiles", "ccd")


def check_smiles(smiles: str) -> tuple[str | None, int]:
    """(why RDKit refuses the SMILES, or None; its heavy-atom count)."""
    with rdkit_log() as log:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return (
            f"RDKit cannot parse the SMILES {smiles!r}: {summarise_log(log) or 'a syntax error'}",
            0,
        )
    problems = chemistry_problems(mol)
    if problems:
        reasons = "; ".join(message for message, _ in problems)
        return f"the SMILES {smiles!r} is not a valid molecule: {reasons}", 0
    return None, mol.GetNumHeavyAtoms()


def check_ligand(
    kind: str,
    value: str,
    name: str,
    errors: ErrorList,
    *,
    where: str,
    max_heavy_atoms: int | None,
    **place: Any,
) -> Ligand | None:
    """A ligand token's value checked (SMILES by RDKit, a CCD code by its form);
    problems go to ``errors`` prefixed with ``where``."""
    if not value:
        errors.add(f"{where}: {kind}= has no value", **place)
        return None
    if kind == "ccd":
        if not _CCD_CODE.fullmatch(value):
            errors.add(
                f"{where}: {value!r} is not a CCD code (1 to 5 letters or digits, e.g. SAH)",
                **place,
            )
            return None
        return Ligand("ccd", value.upper(), name)
    problem, heavy_atoms = check_smiles(value)
    if problem is not None:
        errors.add(f"{where}: {problem}", **place)
        return None
    if max_heavy_atoms is not None and heavy_atoms > max_heavy_atoms:
        errors.add(
            f"{where}: the molecule has {heavy_atoms} heavy atoms; the limit is {max_heavy_atoms}",
            **place,
        )
        return None
    return Ligand("smiles", value, name)


def check_chains(
    token: str, column: int, errors: ErrorList, *, where: str, **place: Any
) -> tuple[str, ...]:
    """The ':'-separated protein chains of a token starting at ``column``."""
    chains: list[str] = []
    start = column
    for part in token.split(":"):
        if not part:
            errors.add(
                f"{where}, character {start}: an empty chain (a ':' at an end or two in a row)",
                column=start,
                **place,
            )
        bad = next(((i, c) for i, c in enumerate(part) if c.upper() not in PROTEIN_ALPHABET), None)
        if bad is not None:
            offset, char = bad
            errors.add(
                f"{where}, character {start + offset}: {char!r} (residue {offset + 1} of "
                f"chain {len(chains) + 1}) is not allowed; {PROTEIN_LETTERS}",
                column=start + offset,
                character=char,
                **place,
            )
        chains.append(part.upper())
        start += len(part) + 1
    return tuple(chains)


def parse_batch_lines(
    text: str,
    *,
    tool_name: str,
    index: int | None,
    slot: str | None,
    ligands_allowed: bool,
    limits: Mapping[str, Any],
) -> list[BatchLine]:
    """A batch input, one job per line (the syntax is in the module docstring).
    Every fault is reported together, each naming its line and character."""
    errors = ErrorList(index=index, slot=slot)
    syntax = "[NAME] CHAIN[:CHAIN...]" + (" [smiles=SMILES] [ccd=CODE]" if ligands_allowed else "")
    items: list[BatchLine] = []
    for number, line, _ in entry_lines(text):
        where = f"line {number}"
        bare: list[re.Match[str]] = []
        ligands: list[Ligand] = []
        for token in re.finditer(r"\S+", line):
            key, equals, value = token.group().partition("=")
            column = token.start() + 1
            if not equals:
                bare.append(token)
            elif key.lower() in LIGAND_KEYS and ligands_allowed:
                ligand = check_ligand(
                    key.lower(),
                    value,
                    f"ligand {len(ligands) + 1}",
                    errors,
                    where=f"{where}, character {column + len(key) + 1}",
                    max_heavy_atoms=limits.get("max_ligand_heavy_atoms"),
                    line=number,
                    column=column + len(key) + 1,
                )
                if ligand is not None:
                    ligands.append(ligand)
            elif key.lower() in LIGAND_KEYS:
                errors.add(
                    f"{where}, character {column}: {tool_name} predicts proteins only; "
                    f"{key}= ligands are not accepted",
                    line=number,
                    column=column,
                )
            else:
                errors.add(
                    f"{where}, character {column}: unknown field {token.group()!r}; write {syntax}",
                    line=number,
                    column=column,
                )
        if not bare or len(bare) > 2:
            found = "no protein chains" if not bare else f"{len(bare)} fields"
            errors.add(
                f"{where}: expected {syntax}, found {found} (separate chains with ':', not spaces)",
                line=number,
            )
            continue
        name = bare[0].group() if len(bare) == 2 else None
        chains = check_chains(
            bare[-1].group(), bare[-1].start() + 1, errors, where=where, line=number
        )
        _check_size(errors, where, number, chains, ligands, limits)
        items.append(BatchLine(number, name, chains, tuple(ligands)))
    if not items and not errors:
        errors.add("the batch input has no lines to predict (it is empty or only comments)")
    maximum = limits.get("max_batch_items")
    if maximum is not None and len(items) > maximum:
        errors.add(f"the batch input has {len(items)} lines to predict; the limit is {maximum}")
    errors.raise_if_any()
    return items


def _check_size(
    errors: ErrorList,
    where: str,
    line: int | None,
    chains: Sequence[str],
    ligands: Sequence[Ligand],
    limits: Mapping[str, Any],
) -> None:
    """The tool's limits on chains, residues and ligands of one complex."""
    max_chains = limits.get("max_chains")
    if max_chains is not None and len(chains) > max_chains:
        errors.add(f"{where}: {len(chains)} chains; the limit is {max_chains}", line=line)
    residues = sum(len(c) for c in chains)
    max_residues = limits.get("max_residues")
    if max_residues is not None and residues > max_residues:
        errors.add(
            f"{where}: {residues:,} residues in all chains; the limit is {max_residues:,}",
            line=line,
        )
    max_ligands = limits.get("max_ligands")
    if max_ligands is not None and len(ligands) > max_ligands:
        errors.add(f"{where}: {len(ligands)} ligands; the limit is {max_ligands}", line=line)


def check_complex_size(
    chains: Sequence[str],
    ligands: Sequence[Ligand],
    limits: Mapping[str, Any],
    *,
    index: int | None,
    slot: str | None,
) -> None:
    """Raise a ValidationError when one job's complex is over the tool's limits."""
    errors = ErrorList(index=index, slot=slot)
    _check_size(errors, "the complex", None, chains, ligands, limits)
    errors.raise_if_any()


def residue_blocks(residues: int, size: int = 10) -> int:
    """Started blocks of ``size`` residues: the unit the prediction tools charge by."""
    return -(-residues // size)
