"""What Boltz-2 prints and writes: its progress, ranked models and affinity."""

from __future__ import annotations

import re
from pathlib import Path

from ...jobs.model import JsonDict
from ..prediction import (
    RankedModel,
    as_percent,
    json_number,
    mean,
    read_json,
    residue_plddt,
)

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
