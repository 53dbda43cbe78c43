"""A fold: the chains of a complex joined as ESMFold folds them, the model run, and
its PDB and per-residue pLDDT back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .model import INFERENCE_LOCK

if TYPE_CHECKING:
    from transformers import EsmForProteinFolding

#: ESMFold folds a complex as one chain: the chains joined by a poly-glycine linker,
#: with a jump in residue index between them, as the original ESMFold does.
CHAIN_SEPARATOR = ":"
CHAIN_LINKER = "G" * 25
RESIDUE_INDEX_OFFSET = 512

#: PDB files name chains with one letter.
CHAIN_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


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
    with INFERENCE_LOCK, torch.inference_mode():
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
