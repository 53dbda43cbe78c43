"""A prediction's outputs: ranked models read into the same rows (pLDDT on 0-100,
pTM, ipTM, ranking score), and its files published under clear names."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gemmi

from ...jobs.model import JsonDict, ResultFile, ToolResult
from ..base import RunContext
from .program import PredictionFailed


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
